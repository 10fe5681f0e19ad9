package dev.pmemcsi.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NodeStateTest {

    @TempDir
    Path dir;

    static Attachment staged(String id, String path) {
        return Attachment.staging(id, Path.of(path), Path.of("/real" + path), new Attachment.Capability(
                Attachment.Access.MOUNT, "xfs", List.of("noatime", "nosuid"), "SINGLE_NODE_WRITER"),
                Path.of("/dev/pmem0"), true).withPhase(Attachment.Phase.DONE);
    }

    static Attachment published(String id, String path, String mode, boolean ro) {
        return Attachment.publication(id, Path.of(path), Path.of(path),
                new Attachment.Capability(Attachment.Access.BLOCK, "", List.of(), mode), ro, Path.of("/stage/" + id),
                Path.of("/dev/pmem1"));
    }

    @Test
    void recordsSurviveAReload() throws Exception {
        NodeState s = new NodeState(dir);
        s.load();
        Attachment a = staged("pvc-1", "/stage/with space=and:colon");
        Attachment e = Attachment.ephemeral("csi-abc", Path.of("/pods/x/mount"), Path.of("/pods/x/mount"),
                new Attachment.Capability(Attachment.Access.MOUNT, "ext4", List.of(), "SINGLE_NODE_WRITER"), true,
                "csiabc-123", false).withPhase(Attachment.Phase.REMOVING);
        s.put(a);
        s.put(e);
        s.put(published("pvc-2", "/pods/y/dev", "SINGLE_NODE_MULTI_WRITER", false));

        NodeState reloaded = new NodeState(dir);
        reloaded.load();
        assertEquals(3, reloaded.all().size());
        assertEquals(a, reloaded.staged("pvc-1").orElseThrow());
        assertEquals(e, reloaded.publishedAt(Path.of("/pods/x/mount")).orElseThrow());
        assertEquals(1, reloaded.publishedOf("pvc-2").size());

        reloaded.remove(a);
        NodeState again = new NodeState(dir);
        again.load();
        assertTrue(again.staged("pvc-1").isEmpty());
        assertEquals(2, again.all().size());
    }

    @Test
    void interruptedWritesAndUnreadableRecordsDoNotBreakLoading() throws Exception {
        NodeState s = new NodeState(dir);
        s.load();
        s.put(staged("pvc-1", "/stage/1"));
        Files.writeString(dir.resolve("staged-0123.properties.tmp"), "half");
        Files.writeString(dir.resolve("staged-garbage.properties"), "kind=STAGED\n");
        NodeState reloaded = new NodeState(dir);
        reloaded.load();
        assertEquals(1, reloaded.all().size());
        try (Stream<Path> files = Files.list(dir)) {
            List<String> names = files.map(p -> p.getFileName().toString()).sorted().toList();
            assertFalse(names.stream().anyMatch(n -> n.endsWith(".tmp")), names.toString());
            assertTrue(names.contains("staged-garbage.properties.unreadable"), names.toString());
        }
    }

    @Test
    void replacingARecordKeepsOneFile() throws Exception {
        NodeState s = new NodeState(dir);
        s.load();
        Attachment a = published("pvc-1", "/pods/z", "SINGLE_NODE_WRITER", false);
        s.put(a);
        s.put(a.withPhase(Attachment.Phase.DONE));
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(1, files.count());
        }
        assertEquals(Attachment.Phase.DONE, s.publishedAt(Path.of("/pods/z")).orElseThrow().phase());
    }
}
