package dev.pmemcsi.node;

import dev.pmemcsi.pmemnative.AtomicFile;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's records, one small JSON file per staging or target path under the state directory
 * ({@link StoredAttachment}). Each write replaces the file atomically ({@link AtomicFile}) and
 * happens before the mount it announces, so a crash at any point leaves a record that says what
 * might exist.
 */
public final class NodeState {

    private static final Logger LOG = LoggerFactory.getLogger(NodeState.class);
    private static final String SUFFIX = ".json";
    /** Records of format 1, which {@link #load} converts. */
    private static final String PROPERTIES_SUFFIX = ".properties";
    private static final String UNREADABLE_SUFFIX = ".unreadable";

    private final Path dir;
    /** By file name without its suffix, e.g. {@code staged-<hash>}. */
    private final Map<String, Attachment> records = new ConcurrentHashMap<>();

    public NodeState(Path dir) {
        this.dir = dir;
    }

    public Path dir() {
        return dir;
    }

    /**
     * Reads every record; leftovers of interrupted writes are removed, unreadable records set
     * aside, and records of format 1 rewritten in this one.
     */
    public void load() throws IOException {
        Files.createDirectories(dir);
        records.clear();
        List<Path> older = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path f : files) {
                String name = f.getFileName().toString();
                if (name.endsWith(AtomicFile.TEMP_SUFFIX)) {
                    Files.deleteIfExists(f);
                } else if (name.endsWith(SUFFIX)) {
                    read(f, SUFFIX);
                } else if (name.endsWith(PROPERTIES_SUFFIX)) {
                    older.add(f);
                }
            }
        }
        // After the JSON records: a conversion that a crash interrupted left both files behind.
        for (Path f : older) {
            convert(f);
        }
    }

    private Optional<Attachment> read(Path f, String suffix) throws IOException {
        String name = f.getFileName().toString();
        String key = name.substring(0, name.length() - suffix.length());
        try {
            Attachment a = suffix.equals(SUFFIX)
                    ? StoredAttachment.fromJson(Files.readAllBytes(f)).toAttachment()
                    : StoredAttachment.fromProperties(properties(f));
            if (!key(a).equals(key)) {
                throw new IllegalArgumentException("record does not belong in file " + name);
            }
            if (suffix.equals(SUFFIX)) {
                records.put(key, a);
            }
            return Optional.of(a);
        } catch (IOException | IllegalArgumentException e) {
            Path aside = f.resolveSibling(name + UNREADABLE_SUFFIX);
            LOG.error("node state record {} is unreadable ({}); moved to {}", f, e.getMessage(), aside);
            Files.move(f, aside, StandardCopyOption.REPLACE_EXISTING);
            return Optional.empty();
        }
    }

    private static Properties properties(Path f) throws IOException {
        Properties p = new Properties();
        p.load(new StringReader(Files.readString(f, StandardCharsets.UTF_8)));
        return p;
    }

    /** Rewrites a record of format 1 as JSON, then removes it. */
    private void convert(Path f) throws IOException {
        Optional<Attachment> a = read(f, PROPERTIES_SUFFIX);
        if (a.isEmpty()) {
            return;
        }
        if (records.containsKey(key(a.get()))) {
            LOG.info("node state record {} was converted before; removing it", f);
        } else {
            put(a.get());
            LOG.info("node state record {} converted to {}", f, fileName(a.get()));
        }
        AtomicFile.delete(f);
    }

    /** The finished publication of volume {@code volumeId} at {@code path}, or else its finished staging there. */
    Optional<Attachment> doneAt(String volumeId, Path path) {
        return publishedAt(path).filter(p -> p.volumeId().equals(volumeId))
                .or(() -> staged(volumeId).filter(s -> s.path().equals(path)))
                .filter(r -> r.phase() == Attachment.Phase.DONE);
    }

    public Collection<Attachment> all() {
        return List.copyOf(records.values());
    }

    public Optional<Attachment> staged(String volumeId) {
        return Optional.ofNullable(records.get(stagedKey(volumeId)));
    }

    public Optional<Attachment> publishedAt(Path target) {
        return Optional.ofNullable(records.get(publishedKey(target)));
    }

    /**
     * Publications of the volume whose device manager ID is {@code deviceId}, at any target. For a
     * persistent volume that is its volume ID; an ephemeral volume's differs from kubelet's ID.
     */
    public List<Attachment> publishedOf(String deviceId) {
        List<Attachment> result = new ArrayList<>();
        for (Attachment a : records.values()) {
            if (a.kind() == Attachment.Kind.PUBLISHED && a.deviceId().equals(deviceId)) {
                result.add(a);
            }
        }
        return result;
    }

    /** Records whose (resolved) path is {@code realPath}: stagings and publications alike. */
    public List<Attachment> at(Path realPath) {
        List<Attachment> result = new ArrayList<>();
        for (Attachment a : records.values()) {
            if (a.realPath().equals(realPath)) {
                result.add(a);
            }
        }
        return result;
    }

    /** Writes (or replaces) the record durably. */
    public void put(Attachment a) throws IOException {
        write(a, AtomicFile.Durability.DURABLE);
    }

    /**
     * Replaces the record with its contents on disk, but does not wait for the rename to be: a
     * crash may bring back the previous version. Only for moving a record forward to DONE, since
     * {@link StartupRecovery} rolls a PENDING record back safely; it saves a directory fsync on
     * every stage and publish.
     */
    public void update(Attachment a) throws IOException {
        write(a, AtomicFile.Durability.ORDERED);
    }

    private void write(Attachment a, AtomicFile.Durability durability) throws IOException {
        Files.createDirectories(dir);
        AtomicFile.write(dir.resolve(fileName(a)), StoredAttachment.of(a).toJson(), durability);
        records.put(key(a), a);
    }

    public void remove(Attachment a) throws IOException {
        AtomicFile.delete(dir.resolve(fileName(a)));
        records.remove(key(a));
    }

    static String fileName(Attachment a) {
        return key(a) + SUFFIX;
    }

    private static String key(Attachment a) {
        return a.kind() == Attachment.Kind.STAGED ? stagedKey(a.volumeId()) : publishedKey(a.path());
    }

    // IDs and paths may hold any character; their hash makes a safe, fixed-length file name.
    private static String stagedKey(String volumeId) {
        return "staged-" + hash(volumeId);
    }

    private static String publishedKey(Path target) {
        return "published-" + hash(target.toString());
    }

    private static String hash(String s) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(d, 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by every Java runtime", e);
        }
    }
}
