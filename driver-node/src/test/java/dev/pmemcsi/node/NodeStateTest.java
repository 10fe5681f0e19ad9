package dev.pmemcsi.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
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

    /**
     * Records as format 1 wrote them ({@code java.util.Properties}, keys in hash order, values
     * escaped), byte for byte: a node upgraded with volumes staged and published must keep them.
     */
    private static final Map<String, String> FORMAT_1 = Map.of(
            "staged-b92d59a73b8ea8f0b31248b6d11c1b8c.properties", """
                    #Tue Dec 01 00:45:37 UTC 2026
                    phase=DONE
                    access=MOUNT
                    kind=STAGED
                    format=1
                    mountFlags=noatime,nosuid
                    ephemeral=false
                    readOnly=false
                    accessMode=SINGLE_NODE_WRITER
                    fsType=xfs
                    deviceId=pvc-legacy
                    path=/var/lib/kubelet/plugins/kubernetes.io/csi/pmem-csi.dev/abc/globalmount
                    devicePath=/dev/pmem0.1
                    volumeId=pvc-legacy
                    eraseAfter=false
                    realPath=/var/lib/kubelet/plugins/kubernetes.io/csi/pmem-csi.dev/abc/globalmount
                    stagingPath=
                    """,
            "published-4213e8560e63fde70be0d9ad2f9b9d54.properties", """
                    #Tue Dec 01 00:45:37 UTC 2026
                    phase=DONE
                    access=MOUNT
                    kind=PUBLISHED
                    format=1
                    mountFlags=noatime,nosuid
                    ephemeral=false
                    readOnly=true
                    accessMode=SINGLE_NODE_WRITER
                    fsType=xfs
                    deviceId=pvc-legacy
                    path=/var/lib/kubelet/pods/p-1/volumes/kubernetes.io~csi/pvc-legacy/mount
                    devicePath=/dev/pmem0.1
                    volumeId=pvc-legacy
                    eraseAfter=false
                    realPath=/var/lib/kubelet/pods/p-1/volumes/kubernetes.io~csi/pvc-legacy/mount
                    stagingPath=/var/lib/kubelet/plugins/kubernetes.io/csi/pmem-csi.dev/abc/globalmount
                    """,
            "published-ac3511888c687af199a1166e9a84924b.properties", """
                    #Tue Dec 01 00:46:00 UTC 2026
                    phase=PENDING
                    access=MOUNT
                    kind=PUBLISHED
                    format=1
                    mountFlags=
                    ephemeral=true
                    readOnly=false
                    accessMode=SINGLE_NODE_WRITER
                    fsType=ext4
                    deviceId=eph--csi-0a1b
                    path=/var/lib/kubelet/pods/p 2/volumes/kubernetes.io~csi/eph\\=1\\:a/mount
                    devicePath=
                    volumeId=csi-0a1b
                    eraseAfter=true
                    realPath=/var/lib/kubelet/pods/p 2/volumes/kubernetes.io~csi/eph\\=1\\:a/mount
                    stagingPath=
                    """);

    private static final String STAGING = "/var/lib/kubelet/plugins/kubernetes.io/csi/pmem-csi.dev/abc/globalmount";

    @Test
    void recordsOfFormat1AreReadAndConverted() throws Exception {
        for (Map.Entry<String, String> f : FORMAT_1.entrySet()) {
            Files.writeString(dir.resolve(f.getKey()), f.getValue(), StandardCharsets.ISO_8859_1);
        }
        NodeState s = new NodeState(dir);
        s.load();
        Attachment.Capability xfs = new Attachment.Capability(Attachment.Access.MOUNT, "xfs",
                List.of("noatime", "nosuid"), "SINGLE_NODE_WRITER");
        Attachment staged = Attachment.staging("pvc-legacy", Path.of(STAGING), Path.of(STAGING), xfs,
                Path.of("/dev/pmem0.1"), false).withPhase(Attachment.Phase.DONE);
        Path target = Path.of("/var/lib/kubelet/pods/p-1/volumes/kubernetes.io~csi/pvc-legacy/mount");
        Attachment published = Attachment.publication("pvc-legacy", target, target, xfs, true, Path.of(STAGING),
                Path.of("/dev/pmem0.1")).withPhase(Attachment.Phase.DONE);
        Path inline = Path.of("/var/lib/kubelet/pods/p 2/volumes/kubernetes.io~csi/eph=1:a/mount");
        Attachment ephemeral = Attachment.ephemeral("csi-0a1b", inline, inline, new Attachment.Capability(
                Attachment.Access.MOUNT, "ext4", List.of(), "SINGLE_NODE_WRITER"), false, "eph--csi-0a1b", true);
        assertEquals(staged, s.staged("pvc-legacy").orElseThrow());
        assertEquals(published, s.publishedAt(target).orElseThrow());
        assertEquals(ephemeral, s.publishedAt(inline).orElseThrow());
        assertEquals(3, s.all().size());

        // Rewritten in the current format, the old files gone; a second start reads the new ones.
        try (Stream<Path> files = Files.list(dir)) {
            List<String> names = files.map(p -> p.getFileName().toString()).sorted().toList();
            assertEquals(FORMAT_1.keySet().stream().map(n -> n.replace(".properties", ".json")).sorted().toList(),
                    names);
        }
        NodeState again = new NodeState(dir);
        again.load();
        assertEquals(staged, again.staged("pvc-legacy").orElseThrow());
        assertEquals(published, again.publishedAt(target).orElseThrow());
        assertEquals(ephemeral, again.publishedAt(inline).orElseThrow());
    }

    @Test
    void aConversionThatACrashInterruptedKeepsTheNewerRecord() throws Exception {
        String name = "staged-b92d59a73b8ea8f0b31248b6d11c1b8c.properties";
        Files.writeString(dir.resolve(name), FORMAT_1.get(name), StandardCharsets.ISO_8859_1);
        NodeState s = new NodeState(dir);
        s.load();
        Attachment removing = s.staged("pvc-legacy").orElseThrow().withPhase(Attachment.Phase.REMOVING);
        s.put(removing);
        // As if the first start had died between writing the JSON record and removing the old one.
        Files.writeString(dir.resolve(name), FORMAT_1.get(name), StandardCharsets.ISO_8859_1);
        NodeState again = new NodeState(dir);
        again.load();
        assertEquals(removing, again.staged("pvc-legacy").orElseThrow());
        assertFalse(Files.exists(dir.resolve(name)));
    }

    @Test
    void recordsAreJsonFilesNamedByKindAndHash() throws Exception {
        NodeState s = new NodeState(dir);
        s.load();
        s.put(staged("pvc-1", "/stage/1"));
        try (Stream<Path> files = Files.list(dir)) {
            Path f = files.findFirst().orElseThrow();
            assertTrue(f.getFileName().toString().matches("staged-[0-9a-f]{32}\\.json"), f.toString());
            String json = Files.readString(f);
            assertTrue(json.contains("\"format\" : 2"), json);
            assertTrue(json.contains("\"volumeId\" : \"pvc-1\""), json);
            assertTrue(json.contains("\"realPath\" : \"/real/stage/1\""), json);
        }
        Files.writeString(dir.resolve("published-0123.json"), "{\"format\": 2, \"kind\": \"PUBLISHED\"}");
        NodeState reloaded = new NodeState(dir);
        reloaded.load();
        assertEquals(1, reloaded.all().size());
        assertTrue(Files.exists(dir.resolve("published-0123.json.unreadable")));
    }
}
