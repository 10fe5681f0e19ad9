package dev.pmemcsi.device.emulated;

import dev.pmemcsi.device.JsonRecord;
import dev.pmemcsi.pmemnative.AtomicFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The namespace table on disk, replaced atomically and durably ({@link AtomicFile}): a reader sees
 * either the old table or the new one, and a saved table survives a power loss.
 */
final class TableStore {

    static final int VERSION = 1;

    // The file: {"version": VERSION, "volumes": [row, ...]}, indented, rows as VolumeRecord writes them.
    // A version bump means an older driver must not read it.

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
        return JsonRecord.write(true, g -> {
            g.writeStartObject();
            g.writeNumberField("version", VERSION);
            g.writeArrayFieldStart("volumes");
            for (VolumeRecord r : sorted) {
                r.write(g);
            }
            g.writeEndArray();
            g.writeEndObject();
        });
    }

    static List<VolumeRecord> decode(byte[] bytes) throws IOException {
        int version;
        List<VolumeRecord> volumes = new ArrayList<>();
        try {
            JsonRecord t = JsonRecord.parse(bytes).requireOnly(false, "version", "volumes");
            version = t.intValue("version");
            List<JsonRecord> rows = t.records("volumes");
            if (rows == null) {
                throw new UnreadableTableException("the namespace table is empty or has no volume list", null);
            }
            for (JsonRecord row : rows) {
                volumes.add(VolumeRecord.read(row));
            }
        } catch (UnreadableTableException e) {
            throw e;
        } catch (IOException e) {
            throw new UnreadableTableException("the namespace table cannot be read: " + e.getMessage(), e);
        }
        if (version != VERSION) {
            throw new IOException("namespace table has version " + version + ", this driver reads version " + VERSION);
        }
        return List.copyOf(volumes);
    }
}
