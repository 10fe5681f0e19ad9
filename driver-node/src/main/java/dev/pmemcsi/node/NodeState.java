package dev.pmemcsi.node;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
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
 * The node's records, one small properties file per staging or target path under the state
 * directory. Each write is atomic and durable (temporary file, fsync, rename, fsync of the
 * directory) and happens before the mount it announces, so a crash at any point leaves a record
 * that says what might exist.
 */
public final class NodeState {

    private static final Logger LOG = LoggerFactory.getLogger(NodeState.class);
    private static final String SUFFIX = ".properties";
    private static final String TMP = ".tmp";

    private final Path dir;
    private final Map<String, Attachment> records = new ConcurrentHashMap<>();

    public NodeState(Path dir) {
        this.dir = dir;
    }

    public Path dir() {
        return dir;
    }

    /** Reads every record; leftovers of interrupted writes are removed, unreadable records set aside. */
    public void load() throws IOException {
        Files.createDirectories(dir);
        records.clear();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path f : files) {
                String name = f.getFileName().toString();
                if (name.endsWith(TMP)) {
                    Files.deleteIfExists(f);
                } else if (name.endsWith(SUFFIX)) {
                    try {
                        Properties p = new Properties();
                        p.load(new StringReader(Files.readString(f, StandardCharsets.UTF_8)));
                        Attachment a = Attachment.fromProperties(p);
                        if (!fileName(a).equals(name)) {
                            throw new IllegalArgumentException("record does not belong in file " + name);
                        }
                        records.put(name, a);
                    } catch (IOException | IllegalArgumentException e) {
                        Path aside = f.resolveSibling(name + ".unreadable");
                        LOG.error("node state record {} is unreadable ({}); moved to {}", f, e.getMessage(), aside);
                        Files.move(f, aside, StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            }
        }
    }

    public Collection<Attachment> all() {
        return List.copyOf(records.values());
    }

    public Optional<Attachment> staged(String volumeId) {
        return Optional.ofNullable(records.get(stagedFile(volumeId)));
    }

    public Optional<Attachment> publishedAt(Path target) {
        return Optional.ofNullable(records.get(publishedFile(target)));
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
        write(a, true);
    }

    /**
     * Replaces the record with its contents on disk, but does not wait for the rename to be: a
     * crash may bring back the previous version. Only for moving a record forward to DONE, since
     * {@link StartupRecovery} rolls a PENDING record back safely; it saves a directory fsync
     * on every stage and publish.
     */
    public void update(Attachment a) throws IOException {
        write(a, false);
    }

    private void write(Attachment a, boolean durable) throws IOException {
        Files.createDirectories(dir);
        String name = fileName(a);
        Path tmp = dir.resolve(name + TMP);
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        a.toProperties().store(buf, null);
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer bytes = ByteBuffer.wrap(buf.toByteArray());
            while (bytes.hasRemaining()) {
                ch.write(bytes);
            }
            ch.force(true);
        }
        Files.move(tmp, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        if (durable) {
            syncDir();
        }
        records.put(name, a);
    }

    public void remove(Attachment a) throws IOException {
        String name = fileName(a);
        Files.deleteIfExists(dir.resolve(name));
        syncDir();
        records.remove(name);
    }

    private void syncDir() throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    static String fileName(Attachment a) {
        return a.kind() == Attachment.Kind.STAGED ? stagedFile(a.volumeId()) : publishedFile(a.path());
    }

    // IDs and paths may hold any character; their hash makes a safe, fixed-length file name.
    private static String stagedFile(String volumeId) {
        return "staged-" + hash(volumeId) + SUFFIX;
    }

    private static String publishedFile(Path target) {
        return "published-" + hash(target.toString()) + SUFFIX;
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
