package dev.pmemcsi.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bytes of a node state record as every release of format 2 wrote them: a record written by
 * one driver must be read by the next and by the one before.
 */
class NodeStateFormatTest {

    @TempDir
    Path dir;

    private static final Attachment STAGED = Attachment.staging("pvc-1", Path.of("/stage/1"), Path.of("/real/stage/1"),
            new Attachment.Capability(Attachment.Access.MOUNT, "xfs", List.of("noatime", "nosuid"), "SINGLE_NODE_WRITER"),
            Path.of("/dev/pmem0"), true).withPhase(Attachment.Phase.DONE);

    static final String RECORD = """
            {
              "format" : 2,
              "kind" : "STAGED",
              "phase" : "DONE",
              "volumeId" : "pvc-1",
              "path" : "/stage/1",
              "realPath" : "/real/stage/1",
              "access" : "MOUNT",
              "fsType" : "xfs",
              "mountFlags" : [ "noatime", "nosuid" ],
              "accessMode" : "SINGLE_NODE_WRITER",
              "readOnly" : false,
              "stagingPath" : "",
              "ephemeral" : false,
              "deviceId" : "pvc-1",
              "devicePath" : "/dev/pmem0",
              "eraseAfter" : true
            }""";

    private Path file() {
        return dir.resolve(NodeState.fileName(STAGED));
    }

    /** Loads a state directory whose one record holds {@code json}: the record read, or none when set aside. */
    private List<Attachment> loadWith(String json) throws Exception {
        Files.writeString(file(), json);
        NodeState s = new NodeState(dir);
        s.load();
        List<Attachment> all = List.copyOf(s.all());
        assertEquals(all.isEmpty(), Files.exists(dir.resolve(file().getFileName() + ".unreadable")), json);
        Files.deleteIfExists(dir.resolve(file().getFileName() + ".unreadable"));
        return all;
    }

    @Test
    void aRecordIsWrittenAsBefore() throws Exception {
        NodeState s = new NodeState(dir);
        s.load();
        s.put(STAGED);
        assertEquals(RECORD, Files.readString(file()));
        Attachment emptyFlags = Attachment.publication("pvc-2", Path.of("/pods/p"), Path.of("/pods/p"),
                new Attachment.Capability(Attachment.Access.BLOCK, "", List.of(), "SINGLE_NODE_WRITER"), true,
                Path.of("/stage/2"), Path.of("/dev/pmem1"));
        s.put(emptyFlags);
        String published = Files.readString(dir.resolve(NodeState.fileName(emptyFlags)));
        assertTrue(published.contains("\n  \"mountFlags\" : [ ],\n"), published);
    }

    @Test
    void aRecordInTheWrittenFormatIsRead() throws Exception {
        assertEquals(List.of(STAGED), loadWith(RECORD));
        assertEquals(List.of(STAGED), loadWith(RECORD.replaceAll("\\s+", "")));
    }

    @Test
    void unknownFieldsSetARecordAside() throws Exception {
        assertEquals(List.of(), loadWith(RECORD.replace("\"format\" : 2,", "\"format\" : 2, \"colour\" : \"red\",")));
    }

    @Test
    void missingNullOrMistypedFieldsSetARecordAside() throws Exception {
        assertEquals(List.of(), loadWith(RECORD.replace("  \"readOnly\" : false,\n", "")));
        assertEquals(List.of(), loadWith(RECORD.replace("  \"fsType\" : \"xfs\",\n", "")));
        assertEquals(List.of(), loadWith(RECORD.replace("\"readOnly\" : false", "\"readOnly\" : null")));
        assertEquals(List.of(), loadWith(RECORD.replace("\"fsType\" : \"xfs\"", "\"fsType\" : null")));
        assertEquals(List.of(), loadWith(RECORD.replace("\"STAGED\"", "\"MOUNTED\"")));
        assertEquals(List.of(), loadWith(RECORD.replace("\"format\" : 2", "\"format\" : 1")));
        assertEquals(List.of(), loadWith(RECORD.replace("[ \"noatime\", \"nosuid\" ]", "\"noatime\"")));
        assertEquals(List.of(), loadWith(RECORD.substring(0, RECORD.length() / 2)));
        assertEquals(List.of(), loadWith(""));
        assertEquals(List.of(), loadWith("null"));
        assertFalse(Files.exists(file()));
    }

    private static final String FREEZE = "{\"volumeId\":\"pvc-1\",\"path\":\"/stage/1\",\"frozenAt\":\"2026-01-02T03:04:05Z\"}";

    private static Freezes.FreezeRecord freeze(String json) throws IOException {
        return Freezes.FreezeRecord.fromJson(json.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void freezeRecordsAreWrittenAndReadAsBefore() throws IOException {
        Freezes.FreezeRecord r = new Freezes.FreezeRecord("pvc-1", "/stage/1", "2026-01-02T03:04:05Z");
        assertEquals(FREEZE, new String(r.toJson(), StandardCharsets.UTF_8));
        assertEquals(r, freeze(FREEZE));
        assertNull(freeze("{\"path\":\"/stage/1\"}").frozenAt(), "only the path is needed to thaw");
    }

    @Test
    void freezeRecordsWithUnknownFieldsOrNoPathAreUnreadable() {
        IOException unknown = assertThrows(IOException.class, () -> freeze(FREEZE.replace("}", ",\"by\":\"x\"}")));
        assertTrue(unknown.getMessage().contains("\"by\""), unknown.getMessage());
        IOException noPath = assertThrows(IOException.class, () -> freeze("{\"volumeId\":\"pvc-1\"}"));
        assertTrue(noPath.getMessage().contains("\"path\""), noPath.getMessage());
        assertThrows(IOException.class, () -> freeze(FREEZE.substring(0, 20)));
        assertThrows(IOException.class, () -> freeze("null"));
    }
}
