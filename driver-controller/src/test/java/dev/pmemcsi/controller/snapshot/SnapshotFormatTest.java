package dev.pmemcsi.controller.snapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bytes of snapshot metadata and restore records as every release so far wrote them: a file
 * written by one driver must be read by the next and by the one before.
 */
class SnapshotFormatTest {

    @TempDir
    Path dir;

    private static final String KEY = SnapshotIds.key("snap-1");
    private static final SnapshotRecord RECORD = new SnapshotRecord(SnapshotRecord.FORMAT, SnapshotIds.id(KEY, "node-a"),
            "snap-1", KEY, "vol-1", 8192, 4096, "ext4", 1_700_000_000_000_000_000L, 4_000_000_000L, true);

    private static final String META = """
            {
              "format" : 1,
              "id" : "%s",
              "name" : "snap-1",
              "key" : "%s",
              "sourceVolumeId" : "vol-1",
              "sizeBytes" : 8192,
              "imageBytes" : 4096,
              "fsType" : "ext4",
              "creationNanos" : 1700000000000000000,
              "crc32c" : 4000000000,
              "ready" : true
            }""".formatted(RECORD.id(), KEY);

    /** Starts a store whose one snapshot's metadata is {@code json}: what it lists, and whether it set the file aside. */
    private List<SnapshotRecord> startWith(String json) throws Exception {
        Path snapshots = dir.resolve("snapshots");
        Files.createDirectories(snapshots);
        Files.write(snapshots.resolve(KEY + ".img"), new byte[4096]);
        Files.writeString(snapshots.resolve(KEY + ".json"), json);
        SnapshotStore store = new SnapshotStore(snapshots);
        store.start();
        Path aside = snapshots.resolve(KEY + ".json.unreadable");
        assertEquals(store.list().isEmpty(), Files.exists(aside), json);
        Files.deleteIfExists(aside);
        return store.list();
    }

    @Test
    void metadataIsWrittenAsBefore() throws Exception {
        SnapshotStore store = new SnapshotStore(dir.resolve("snapshots"));
        store.start();
        Files.write(store.temporaryImage(KEY), new byte[4096]);
        store.commit(RECORD);
        assertEquals(META, Files.readString(store.dir().resolve(KEY + ".json")));
    }

    @Test
    void metadataInTheWrittenFormatIsRead() throws Exception {
        assertEquals(List.of(RECORD), startWith(META));
        assertEquals(List.of(RECORD), startWith(META.replaceAll("\\s+", "")));
    }

    @Test
    void unknownMissingOrDamagedFieldsSetMetadataAside() throws Exception {
        assertEquals(List.of(), startWith(META.replace("\"format\" : 1,", "\"format\" : 1, \"colour\" : \"red\",")));
        assertEquals(List.of(), startWith(META.replace("  \"fsType\" : \"ext4\",\n", "")));
        assertEquals(List.of(), startWith(META.replace("  \"crc32c\" : 4000000000,\n", "")));
        assertEquals(List.of(), startWith(META.replace("\"crc32c\" : 4000000000", "\"crc32c\" : null")));
        assertEquals(List.of(), startWith(META.replace("\"name\" : \"snap-1\"", "\"name\" : null")));
        assertEquals(List.of(), startWith(META.replace("\"ready\" : true", "\"ready\" : \"yes\"")));
        assertEquals(List.of(), startWith(META.replace("\"format\" : 1", "\"format\" : 2")));
        assertEquals(List.of(), startWith(META.substring(0, META.length() / 2)));
        assertEquals(List.of(), startWith(""));
    }

    @Test
    void aNullFilesystemReadsAsNone() throws Exception {
        List<SnapshotRecord> read = startWith(META.replace("\"fsType\" : \"ext4\"", "\"fsType\" : null"));
        assertEquals("", read.get(0).fsType());
    }

    private static final String ENTRY = "{\"volumeId\":\"pvc-2\",\"kind\":\"SNAPSHOT\",\"sourceId\":\"" + RECORD.id()
            + "\",\"phase\":\"COPYING\"}";

    /** Loads a journal whose one record is {@code json}. */
    private Optional<RestoreJournal.Entry> loadWith(String json) throws Exception {
        Path journal = dir.resolve("restores");
        Files.createDirectories(journal);
        Files.writeString(journal.resolve("pvc-2.json"), json);
        RestoreJournal j = new RestoreJournal(journal);
        j.load();
        assertTrue(Files.exists(journal.resolve("pvc-2.json")), "an unreadable record is kept for an operator");
        return j.get("pvc-2");
    }

    @Test
    void restoreRecordsAreWrittenAndReadAsBefore() throws Exception {
        RestoreJournal j = new RestoreJournal(dir.resolve("restores"));
        j.load();
        j.begin("pvc-2", RestoreJournal.SourceKind.SNAPSHOT, RECORD.id());
        assertEquals(ENTRY, Files.readString(dir.resolve("restores/pvc-2.json")));
        RestoreJournal.Entry copying = new RestoreJournal.Entry("pvc-2", RestoreJournal.SourceKind.SNAPSHOT, RECORD.id(),
                RestoreJournal.Phase.COPYING);
        assertEquals(Optional.of(copying), loadWith(ENTRY));
        assertEquals(Optional.of(copying), loadWith(ENTRY.replace(",", ", ").replace(":", " : ")));
    }

    @Test
    void restoreRecordsWithUnknownMissingOrDamagedFieldsAreNotLoaded() throws Exception {
        assertEquals(Optional.empty(), loadWith(ENTRY.replace("}", ",\"colour\":\"red\"}")));
        assertEquals(Optional.empty(), loadWith(ENTRY.replace(",\"phase\":\"COPYING\"", "")));
        assertEquals(Optional.empty(), loadWith(ENTRY.replace("\"COPYING\"", "\"HALF\"")));
        assertEquals(Optional.empty(), loadWith(ENTRY.substring(0, 30)));
    }
}
