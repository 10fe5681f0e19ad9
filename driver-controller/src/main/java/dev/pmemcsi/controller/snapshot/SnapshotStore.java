package dev.pmemcsi.controller.snapshot;

import dev.pmemcsi.device.FaultPoints;
import dev.pmemcsi.pmemnative.AtomicFile;
import dev.pmemcsi.pmemnative.RegularFile;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The snapshots of this node: one directory on the node's ordinary disk (not PMEM), two files per
 * snapshot, named by its key ({@link SnapshotIds#key}):
 *
 * <ul>
 *   <li>{@code <key>.img}, the image: a sparse file as long as the copied device range, whose
 *       blocks of zeros are holes that take no disk space;</li>
 *   <li>{@code <key>.json}, its metadata ({@link SnapshotRecord}).</li>
 * </ul>
 *
 * <p>An image is written as {@code <key>.img.tmp}, fsync'ed, renamed, and the directory synced;
 * only then is the metadata written (atomically and durably, {@link AtomicFile}). A snapshot
 * exists when its metadata does, so a crash at any point leaves either a complete snapshot or
 * files that {@link #start} removes: temporaries, and images without metadata.
 */
public final class SnapshotStore {

    private static final Logger LOG = LoggerFactory.getLogger(SnapshotStore.class);
    private static final String IMAGE = ".img";
    private static final String META = ".json";
    private static final String TEMP = AtomicFile.TEMP_SUFFIX;
    private static final String SET_ASIDE = ".unreadable";

    // Test-only crash points (see FaultPoints).
    /** The image is complete and durable under its temporary name. */
    public static final String FAULT_IMAGE_WRITTEN = "controller.snapshot.image-written";
    /** The image has its final name; its metadata is not written yet. */
    public static final String FAULT_IMAGE_RENAMED = "controller.snapshot.image-renamed";

    /** A snapshot and the disk space its image takes. */
    private record Entry(SnapshotRecord record, long storedBytes) {}

    private final Path dir;
    private final Map<String, Entry> snapshots = new ConcurrentHashMap<>();

    public SnapshotStore(Path dir) {
        this.dir = dir;
    }

    public Path dir() {
        return dir;
    }

    /**
     * Loads the snapshots and removes what an interrupted snapshot or delete left: temporaries,
     * images without metadata, metadata of incomplete snapshots. Metadata that cannot be read, or
     * whose image is missing or of the wrong length, is set aside ({@code .unreadable}) and its
     * snapshot no longer listed; the error log names it.
     */
    public synchronized void start() throws IOException {
        if (!Files.isDirectory(dir)) {
            // The images hold the volumes' data: only root may read them.
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        }
        snapshots.clear();
        List<Path> images = new ArrayList<>();
        int removed = 0;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path f : files) {
                String name = f.getFileName().toString();
                if (name.endsWith(TEMP)) {
                    Files.deleteIfExists(f);
                    removed++;
                } else if (name.endsWith(IMAGE)) {
                    images.add(f);
                } else if (name.endsWith(META)) {
                    load(f);
                }
            }
        }
        for (Path image : images) {
            String key = stem(image, IMAGE);
            if (!snapshots.containsKey(key)) {
                Files.deleteIfExists(image);
                removed++;
            }
        }
        if (removed > 0) {
            AtomicFile.syncDirectory(dir);
            LOG.warn("removed {} file(s) of snapshots that were interrupted before they were complete", removed);
        }
        LOG.info("{} snapshot(s) in {}, {} bytes on disk", snapshots.size(), dir, storedBytes());
    }

    private void load(Path meta) throws IOException {
        String key = stem(meta, META);
        SnapshotRecord r;
        try {
            r = SnapshotRecord.fromJson(Files.readAllBytes(meta));
            if (r.format() != SnapshotRecord.FORMAT || !r.key().equals(key)) {
                throw new IOException("format " + r.format() + ", key " + r.key());
            }
        } catch (IOException | RuntimeException e) {
            setAside(meta, "its metadata is unreadable (" + e.getMessage() + ")");
            return;
        }
        if (!r.ready()) {
            AtomicFile.delete(meta);
            Files.deleteIfExists(image(key));
            return;
        }
        Path image = image(key);
        if (!Files.isRegularFile(image, LinkOption.NOFOLLOW_LINKS)) {
            setAside(meta, "its image " + image + " is missing");
            return;
        }
        long length = Files.size(image);
        if (length != r.imageBytes()) {
            setAside(meta, "its image " + image + " has " + length + " bytes, not " + r.imageBytes());
            return;
        }
        snapshots.put(key, new Entry(r, RegularFile.allocatedBytes(image)));
    }

    private static void setAside(Path meta, String why) throws IOException {
        Path aside = meta.resolveSibling(meta.getFileName() + SET_ASIDE);
        LOG.error("snapshot {} is damaged: {}; it is no longer listed, and its metadata is moved to {}",
                meta.getFileName(), why, aside);
        Files.move(meta, aside, StandardCopyOption.REPLACE_EXISTING);
    }

    private static String stem(Path f, String suffix) {
        String name = f.getFileName().toString();
        return name.substring(0, name.length() - suffix.length());
    }

    public Optional<SnapshotRecord> get(String key) {
        return Optional.ofNullable(snapshots.get(key)).map(Entry::record);
    }

    /** Every snapshot, in snapshot ID order. */
    public List<SnapshotRecord> list() {
        return snapshots.values().stream().map(Entry::record).sorted(Comparator.comparing(SnapshotRecord::id)).toList();
    }

    public int count() {
        return snapshots.size();
    }

    /** The disk space the images take (their allocated blocks, not their length). */
    public long storedBytes() {
        return snapshots.values().stream().mapToLong(Entry::storedBytes).sum();
    }

    /** Where a snapshot's image lives once complete. */
    public Path image(String key) {
        return dir.resolve(key + IMAGE);
    }

    /** Where a snapshot's image is written. */
    public Path temporaryImage(String key) {
        return dir.resolve(key + IMAGE + TEMP);
    }

    /**
     * Makes a snapshot whose image is complete and fsync'ed at {@link #temporaryImage} exist:
     * renames the image, syncs the directory, then writes the metadata durably.
     */
    public synchronized void commit(SnapshotRecord r) throws IOException {
        if (!r.ready()) {
            throw new IllegalArgumentException("only complete snapshots are committed: " + r.id());
        }
        FaultPoints.reached(FAULT_IMAGE_WRITTEN);
        Path image = image(r.key());
        Files.move(temporaryImage(r.key()), image, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        AtomicFile.syncDirectory(dir);
        FaultPoints.reached(FAULT_IMAGE_RENAMED);
        AtomicFile.write(dir.resolve(r.key() + META), r.toJson(), AtomicFile.Durability.DURABLE);
        snapshots.put(r.key(), new Entry(r, RegularFile.allocatedBytes(image)));
    }

    /** Removes an unfinished image. */
    public void discard(String key) throws IOException {
        Files.deleteIfExists(temporaryImage(key));
    }

    /**
     * Deletes a snapshot: the metadata first, so a crash in between leaves an image without
     * metadata, which the next start removes, never metadata without its image.
     */
    public synchronized void delete(String key) throws IOException {
        AtomicFile.delete(dir.resolve(key + META));
        snapshots.remove(key);
        if (Files.deleteIfExists(image(key))) {
            AtomicFile.syncDirectory(dir);
        }
    }
}
