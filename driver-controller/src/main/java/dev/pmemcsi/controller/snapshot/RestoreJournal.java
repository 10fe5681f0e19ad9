package dev.pmemcsi.controller.snapshot;

import dev.pmemcsi.device.JsonRecord;
import dev.pmemcsi.pmemnative.AtomicFile;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which volumes were made from a snapshot or another volume, and whether their copy finished: one
 * small file per such volume, written durably before the volume is created and again when its
 * copy is complete. A volume whose record still says {@link Phase#COPYING} holds a partial copy
 * and must never be handed out: a repeated CreateVolume deletes it and copies again, and so does
 * the driver's start ({@link #unfinished}).
 *
 * <p>The record also answers a repeated CreateVolume, which must name the same source, and it
 * lives as long as the volume: DeleteVolume forgets it.
 */
public final class RestoreJournal {

    private static final Logger LOG = LoggerFactory.getLogger(RestoreJournal.class);
    private static final String SUFFIX = ".json";

    public enum Phase { COPYING, DONE }

    /** Where a volume's content came from. */
    public enum SourceKind { SNAPSHOT, VOLUME }

    /**
     * @param volumeId the new volume
     * @param kind     a snapshot or a volume
     * @param sourceId the snapshot ID or volume ID
     * @param phase    whether the copy finished
     */
    public record Entry(String volumeId, SourceKind kind, String sourceId, Phase phase) {

        /** The record's file: one JSON object without blanks. */
        byte[] toJson() throws IOException {
            return JsonRecord.write(false, g -> {
                g.writeStartObject();
                JsonRecord.writeString(g, "volumeId", volumeId);
                JsonRecord.writeEnum(g, "kind", kind);
                JsonRecord.writeString(g, "sourceId", sourceId);
                JsonRecord.writeEnum(g, "phase", phase);
                g.writeEndObject();
            });
        }

        /** Reads a record's file: all four fields must be there, and no other. */
        static Entry fromJson(byte[] json) throws IOException {
            JsonRecord r = JsonRecord.parse(json).requireOnly(true, "volumeId", "kind", "sourceId", "phase");
            return new Entry(r.requiredString("volumeId"), r.enumValue("kind", SourceKind.class), r.string("sourceId"),
                    r.enumValue("phase", Phase.class));
        }
    }

    private final Path dir;
    private final Map<String, Entry> entries = new ConcurrentHashMap<>();

    public RestoreJournal(Path dir) {
        this.dir = dir;
    }

    /** Reads the records; leftovers of interrupted writes are removed. */
    public synchronized void load() throws IOException {
        Files.createDirectories(dir);
        entries.clear();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path f : files) {
                String name = f.getFileName().toString();
                if (name.endsWith(AtomicFile.TEMP_SUFFIX)) {
                    Files.deleteIfExists(f);
                } else if (name.endsWith(SUFFIX)) {
                    try {
                        Entry e = Entry.fromJson(Files.readAllBytes(f));
                        entries.put(e.volumeId(), e);
                    } catch (IOException e) {
                        // Without its record a volume looks like an ordinary one: the copy it may
                        // hold cannot be told complete, so the record is kept for an operator.
                        LOG.error("restore record {} is unreadable: {}", f, e.getMessage());
                    }
                }
            }
        }
    }

    public Optional<Entry> get(String volumeId) {
        return Optional.ofNullable(entries.get(volumeId));
    }

    /** The volumes whose copy a crash interrupted. */
    public List<Entry> unfinished() {
        return entries.values().stream().filter(e -> e.phase() == Phase.COPYING).toList();
    }

    /** Records, durably, that the volume is about to be created and filled. */
    public void begin(String volumeId, SourceKind kind, String sourceId) throws IOException {
        write(new Entry(volumeId, kind, sourceId, Phase.COPYING));
    }

    /** Records, durably, that the volume's copy is complete. */
    public void done(Entry e) throws IOException {
        write(new Entry(e.volumeId(), e.kind(), e.sourceId(), Phase.DONE));
    }

    /** Forgets the volume, durably. */
    public void forget(String volumeId) throws IOException {
        AtomicFile.delete(file(volumeId));
        entries.remove(volumeId);
    }

    private void write(Entry e) throws IOException {
        Files.createDirectories(dir);
        AtomicFile.write(file(e.volumeId()), e.toJson(), AtomicFile.Durability.DURABLE);
        entries.put(e.volumeId(), e);
    }

    private Path file(String volumeId) {
        return dir.resolve(volumeId + SUFFIX);
    }
}
