package dev.pmemcsi.device.emulated;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.pmemcsi.pmemnative.AtomicFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;

/**
 * The namespace table on disk, replaced atomically and durably ({@link AtomicFile}): a reader sees
 * either the old table or the new one, and a saved table survives a power loss.
 */
final class TableStore {

    static final int VERSION = 1;

    /** The file format; a version bump means an older driver must not read it. */
    record Table(int version, List<VolumeRecord> volumes) {
        Table {
            volumes = List.copyOf(volumes);
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .setSerializationInclusion(JsonInclude.Include.ALWAYS);

    private final Path file;
    private final Path temp;

    TableStore(Path file) {
        this.file = file;
        this.temp = file.resolveSibling(file.getFileName() + AtomicFile.TEMP_SUFFIX);
    }

    Path file() {
        return file;
    }

    /** The table's content cannot be parsed: it was damaged, and its rows must be found elsewhere. */
    static final class UnreadableTableException extends IOException {
        private static final long serialVersionUID = 1L;

        UnreadableTableException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** The table, empty when none was written yet. A leftover temporary file is a torn write: dropped. */
    List<VolumeRecord> load() throws IOException {
        Files.deleteIfExists(temp);
        if (!Files.exists(file)) {
            return List.of();
        }
        return decode(Files.readAllBytes(file));
    }

    boolean exists() {
        return Files.exists(file);
    }

    void save(List<VolumeRecord> records) throws IOException {
        AtomicFile.write(file, encode(records), AtomicFile.Durability.DURABLE);
    }

    static byte[] encode(List<VolumeRecord> records) throws IOException {
        List<VolumeRecord> sorted = records.stream().sorted(Comparator.comparing(VolumeRecord::id)).toList();
        return JSON.writeValueAsBytes(new Table(VERSION, sorted));
    }

    static List<VolumeRecord> decode(byte[] bytes) throws IOException {
        Table t;
        try {
            t = JSON.readValue(bytes, Table.class);
        } catch (IOException | IllegalArgumentException | NullPointerException e) {
            throw new UnreadableTableException("the namespace table cannot be read: " + e.getMessage(), e);
        }
        if (t == null || t.volumes() == null) {
            throw new UnreadableTableException("the namespace table is empty or has no volume list", null);
        }
        if (t.version() != VERSION) {
            throw new IOException("namespace table has version " + t.version() + ", this driver reads version " + VERSION);
        }
        return t.volumes();
    }
}
