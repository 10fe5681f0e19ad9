package dev.pmemcsi.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pmemcsi.csi.v1.NodeGetVolumeStatsRequest;
import dev.pmemcsi.csi.v1.NodePublishVolumeRequest;
import dev.pmemcsi.csi.v1.NodeStageVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnpublishVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnstageVolumeRequest;
import dev.pmemcsi.csi.v1.VolumeCapability.AccessMode.Mode;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.InMemoryDeviceManager;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.pmemnative.mount.MountInfo;
import dev.pmemcsi.pmemnative.mount.MountTable;
import dev.pmemcsi.pmemnative.mount.Mounter;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The node service acts only strictly below kubelet's {@code plugins/} and {@code pods/} trees,
 * and never in its own directories: every other path is refused before anything is created,
 * formatted, mounted, unmounted or deleted. Real loop devices and mounts; needs root.
 *
 * <p>The layout is a DaemonSet's: socket and state below {@code <kubelet>/plugins/pmem-csi.dev/}.
 * Host system directories are tried only with block access, whose staging mounts nothing, so that
 * a regression cannot mount over the test machine's {@code /etc}.
 */
class NodeConfinementIT {

    private static final long DEVICE_BYTES = 1100 * CapacityMath.MIB;
    private static final int PROBE_BYTES = 1 << 20;

    @TempDir
    Path root;

    private Path kubelet;
    private Path plugins;
    private Path pods;
    private Path socketDir;
    private Path stateDir;
    private Path emulatedDir;
    private Path outside;
    private InMemoryDeviceManager devices;
    private InProcessNode node;
    private final List<LoopDevice> loops = new ArrayList<>();

    @BeforeAll
    static void needsRoot() {
        assumeTrue("root".equals(System.getProperty("user.name")), "host integration tests need root");
    }

    @BeforeEach
    void setUp() throws Exception {
        kubelet = root.resolve("kubelet");
        plugins = Files.createDirectories(kubelet.resolve("plugins"));
        pods = Files.createDirectories(kubelet.resolve("pods"));
        socketDir = Files.createDirectories(plugins.resolve("pmem-csi.dev"));
        stateDir = socketDir.resolve("state");
        emulatedDir = Files.createDirectories(stateDir.resolve("emulated"));
        Files.writeString(emulatedDir.resolve("volumes.json"), "{}");
        outside = Files.createDirectories(root.resolve("outside"));
        devices = new InMemoryDeviceManager(new long[] {64 * CapacityMath.GIB});
        devices.start();
        node = start(kubelet);
    }

    private InProcessNode start(Path kubeletDir) throws IOException {
        return new InProcessNode(InProcessNode.CONFIG, devices, stateDir.resolve("node"), kubeletDir,
                List.of(stateDir, emulatedDir, socketDir));
    }

    @AfterEach
    void noLeftovers() throws Exception {
        node.close();
        List<MountInfo> left = MountTable.read().under(root);
        for (int i = left.size() - 1; i >= 0; i--) {
            new Mounter().unmount(Path.of(left.get(i).mountPoint()));
        }
        for (LoopDevice l : loops) {
            l.close();
        }
        assertTrue(left.isEmpty(), "mounts left behind: " + left);
    }

    private String volume(String id) throws Exception {
        LoopDevice loop = LoopDevice.create(root, id, DEVICE_BYTES);
        loops.add(loop);
        devices.createVolume(new VolumeRequest(id, CapacityMath.GIB, 0, VolumeMode.FSDAX, true, Map.of()));
        devices.setDevice(id, loop.device, false);
        return id;
    }

    /** No mkfs ran: the start of the device, where every filesystem keeps its superblock, is still zero. */
    private void assertNeverFormatted(String id) throws Exception {
        byte[] head = new byte[PROBE_BYTES];
        try (RandomAccessFile f = new RandomAccessFile(devices.getVolume(id).orElseThrow().devicePath().toFile(), "r")) {
            f.readFully(head);
        }
        for (byte b : head) {
            assertEquals(0, b, "the device of " + id + " was written to");
        }
    }

    /** Every file below {@code dir} with its content (directories as "dir"): to prove nothing changed. */
    private static Map<String, String> snapshot(Path dir) throws IOException {
        Map<String, String> m = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.toList()) {
                m.put(p.toString(), Files.isSymbolicLink(p) ? "link " + Files.readSymbolicLink(p)
                        : Files.isDirectory(p) ? "dir" : Files.readString(p));
            }
        }
        return m;
    }

    private static List<String> mountsUnder(Path dir) throws IOException {
        return MountTable.read().under(dir).stream().map(MountInfo::mountPoint).toList();
    }

    private static Status.Code code(Runnable call) {
        return assertThrows(StatusRuntimeException.class, call::run).getStatus().getCode();
    }

    private static VolumeCapability xfs() {
        return NodeServiceTest.mountCap("xfs", Mode.SINGLE_NODE_WRITER);
    }

    private static VolumeCapability block() {
        return NodeServiceIT.block(Mode.SINGLE_NODE_WRITER);
    }

    private Status.Code stage(String id, Path staging, VolumeCapability cap) {
        return code(() -> node.stub.nodeStageVolume(NodeStageVolumeRequest.newBuilder().setVolumeId(id)
                .setStagingTargetPath(staging.toString()).setVolumeCapability(cap).build()));
    }

    private void stageOk(String id, Path staging, VolumeCapability cap) {
        node.stub.nodeStageVolume(NodeStageVolumeRequest.newBuilder().setVolumeId(id)
                .setStagingTargetPath(staging.toString()).setVolumeCapability(cap).build());
    }

    private void unstageOk(String id, Path staging) {
        node.stub.nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(id)
                .setStagingTargetPath(staging.toString()).build());
    }

    private NodePublishVolumeRequest publishRequest(String id, Path staging, Path target, VolumeCapability cap) {
        return NodePublishVolumeRequest.newBuilder().setVolumeId(id).setStagingTargetPath(staging.toString())
                .setTargetPath(target.toString()).setVolumeCapability(cap).build();
    }

    private NodeUnpublishVolumeRequest unpublishRequest(String id, Path target) {
        return NodeUnpublishVolumeRequest.newBuilder().setVolumeId(id).setTargetPath(target.toString()).build();
    }

    private Path newStaging(String id) throws IOException {
        return Files.createDirectories(plugins.resolve("kubernetes.io/csi/pmem-csi.dev/" + id)).resolve("globalmount");
    }

    private Path newTarget(String pod, String id) throws IOException {
        return Files.createDirectories(pods.resolve(pod + "/volumes/kubernetes.io~csi/" + id)).resolve("mount");
    }

    // ------------------------------------------------------------------ stage

    @Test
    void stagingOntoAnExistingHostDirectoryIsRefusedAndHidesNothing() throws Exception {
        String id = volume("pvc-hostdir");
        Path hostDir = Files.createDirectories(outside.resolve("data"));
        Files.writeString(hostDir.resolve("precious"), "precious");
        Map<String, String> before = snapshot(outside);
        assertEquals(Status.Code.INVALID_ARGUMENT, stage(id, hostDir, xfs()));
        assertEquals(Status.Code.INVALID_ARGUMENT, stage(id, outside.resolve("fresh"), xfs()));
        assertEquals(before, snapshot(outside), "no file hidden, no directory made");
        assertEquals(List.of(), mountsUnder(root));
        assertEquals(Optional.empty(), node.service.usage(id));
        assertNeverFormatted(id);
    }

    @Test
    void stagingThroughAParentSymlinkThatPointsOutsideIsRefused() throws Exception {
        String id = volume("pvc-link");
        Path elsewhere = Files.createDirectories(outside.resolve("elsewhere"));
        Path link = Files.createSymbolicLink(plugins.resolve("kubernetes.io"), elsewhere);
        Map<String, String> before = snapshot(outside);
        Path staging = link.resolve("globalmount");
        assertEquals(Status.Code.INVALID_ARGUMENT, stage(id, staging, xfs()));
        assertEquals(Status.Code.INVALID_ARGUMENT, stage(id, link.resolve("csi/pv/globalmount"), xfs()));
        assertEquals(before, snapshot(outside), "nothing was created through the link");
        assertEquals(List.of(), mountsUnder(root));
        assertEquals(Optional.empty(), node.service.usage(id));
        assertNeverFormatted(id);
    }

    @Test
    void stagingOverTheDriversOwnDirectoriesIsRefused() throws Exception {
        String id = volume("pvc-own");
        // A record of another volume, so the state dir is not empty.
        String other = volume("pvc-other");
        Path otherStaging = newStaging(other);
        stageOk(other, otherStaging, block());
        Map<String, String> before = snapshot(socketDir);
        for (Path p : List.of(socketDir, stateDir, stateDir.resolve("node"), emulatedDir, emulatedDir.resolve("new"),
                socketDir.resolve("csi.sock"), plugins, pods, kubelet)) {
            assertEquals(Status.Code.INVALID_ARGUMENT, stage(id, p, xfs()), p.toString());
            assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> node.stub.nodeUnstageVolume(NodeUnstageVolumeRequest
                    .newBuilder().setVolumeId(other).setStagingTargetPath(p.toString()).build())), p.toString());
        }
        assertEquals(before, snapshot(socketDir), "the driver's own files are as they were");
        assertEquals(List.of(), mountsUnder(root));
        assertNeverFormatted(id);
        unstageOk(other, otherStaging);
    }

    @Test
    void theSocketDirIsRecognisedUnderItsOtherName() throws Exception {
        // A DaemonSet's container sees its socket dir at /csi and again below the kubelet dir.
        Path alias = Files.createDirectories(root.resolve("csi"));
        new Mounter().bind(socketDir, alias, 0);
        try (InProcessNode aliased = new InProcessNode(InProcessNode.CONFIG, devices, root.resolve("state2"), kubelet,
                List.of(alias))) {
            String id = volume("pvc-alias");
            Map<String, String> before = snapshot(socketDir);
            for (Path p : List.of(socketDir, socketDir.resolve("sub"))) {
                assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> aliased.stub.nodeStageVolume(NodeStageVolumeRequest
                        .newBuilder().setVolumeId(id).setStagingTargetPath(p.toString()).setVolumeCapability(xfs())
                        .build())), p.toString());
            }
            assertEquals(before, snapshot(socketDir));
            assertEquals(List.of(alias.toString()), mountsUnder(root));
            assertNeverFormatted(id);
        } finally {
            new Mounter().unmount(alias);
        }
    }

    @Test
    void hostSystemDirectoriesAreRefused() throws Exception {
        String id = volume("pvc-etc");
        for (Path p : List.of(Path.of("/etc"), Path.of("/usr/bin"), Path.of("/etc/pmem-csi-test-never"))) {
            assertEquals(Status.Code.INVALID_ARGUMENT, stage(id, p, block()), p.toString());
            assertEquals(Optional.empty(), node.service.usage(id), p + " was recorded as a staging path");
        }
        assertFalse(Files.exists(Path.of("/etc/pmem-csi-test-never")));
    }

    // ------------------------------------------------------------------ publish and unpublish

    @Test
    void blockPublishOntoANonEmptyFileIsFailedPreconditionAndLeavesTheFile() throws Exception {
        String id = volume("pvc-full");
        Path staging = newStaging(id);
        stageOk(id, staging, block());
        Path target = newTarget("pod-full", id);
        Files.writeString(target, "someone's data");
        assertEquals(Status.Code.FAILED_PRECONDITION,
                code(() -> node.stub.nodePublishVolume(publishRequest(id, staging, target, block()))));
        assertEquals("someone's data", Files.readString(target));
        assertEquals(List.of(), mountsUnder(root));
        assertEquals(Optional.of("staged at " + staging), node.service.usage(id));
        unstageOk(id, staging);
    }

    @Test
    void blockPublishOntoHostFilesAndUnpublishThereAreRefused() throws Exception {
        String id = volume("pvc-hostfile");
        Path staging = newStaging(id);
        stageOk(id, staging, block());
        Path empty = Files.writeString(outside.resolve("empty"), "");
        Path full = Files.writeString(outside.resolve("full"), "host data");
        Map<String, String> before = snapshot(outside);
        for (Path p : List.of(empty, full, outside.resolve("new"))) {
            assertEquals(Status.Code.INVALID_ARGUMENT,
                    code(() -> node.stub.nodePublishVolume(publishRequest(id, staging, p, block()))), p.toString());
            assertEquals(Status.Code.INVALID_ARGUMENT,
                    code(() -> node.stub.nodeUnpublishVolume(unpublishRequest(id, p))), p.toString());
        }
        assertEquals(before, snapshot(outside), "no host file bound over, created or deleted");
        assertEquals(List.of(), mountsUnder(root));
        assertEquals(Optional.of("staged at " + staging), node.service.usage(id));
        unstageOk(id, staging);
    }

    @Test
    void unpublishNeverDeletesANonEmptyFile() throws Exception {
        String id = volume("pvc-keep");
        Path staging = newStaging(id);
        stageOk(id, staging, block());
        Path target = newTarget("pod-keep", id);
        node.stub.nodePublishVolume(publishRequest(id, staging, target, block()));
        // Someone else took the bind away and wrote into the file the driver had made.
        new Mounter().unmount(target);
        Files.writeString(target, "written after the unmount");
        assertEquals(Status.Code.FAILED_PRECONDITION,
                code(() -> node.stub.nodeUnpublishVolume(unpublishRequest(id, target))));
        assertEquals("written after the unmount", Files.readString(target));
        Files.delete(target);
        node.stub.nodeUnpublishVolume(unpublishRequest(id, target));
        unstageOk(id, staging);
    }

    @Test
    void statsForAPathOutsideTheTreesIsNotFound() throws Exception {
        String id = volume("pvc-stats");
        Path staging = newStaging(id);
        stageOk(id, staging, block());
        for (Path p : List.of(outside, Path.of("/etc"), stateDir, plugins)) {
            assertEquals(Status.Code.NOT_FOUND, code(() -> node.stub.nodeGetVolumeStats(NodeGetVolumeStatsRequest
                    .newBuilder().setVolumeId(id).setVolumePath(p.toString()).build())), p.toString());
        }
        unstageOk(id, staging);
    }

    @Test
    void publishNeverBindsFromARecordedStagingThatNowLiesOutside() throws Exception {
        String id = volume("pvc-moved-source");
        Path a = Files.createDirectories(plugins.resolve("a"));
        Files.createDirectories(plugins.resolve("b"));
        Path link = Files.createSymbolicLink(plugins.resolve("link"), a);
        Path staging = link.resolve("globalmount");
        stageOk(id, staging, xfs());
        // The recorded location becomes one of the driver's own directories; the link moves on.
        node.close();
        node = new InProcessNode(InProcessNode.CONFIG, devices, stateDir.resolve("node"), kubelet,
                List.of(stateDir, emulatedDir, socketDir, a));
        Files.delete(link);
        Files.createSymbolicLink(link, plugins.resolve("b"));
        Path target = newTarget("pod-moved", id);
        assertEquals(Status.Code.INVALID_ARGUMENT,
                code(() -> node.stub.nodePublishVolume(publishRequest(id, staging, target, xfs()))));
        assertEquals(List.of(a.resolve("globalmount").toString()), mountsUnder(root), "nothing was bound");
        node.close();
        Files.delete(link);
        Files.createSymbolicLink(link, a);
        node = start(kubelet);
        unstageOk(id, staging);
    }

    // ------------------------------------------------------------------ start-up recovery

    @Test
    void recoveryLeavesARecordOutsideTheTreesAlone() throws Exception {
        String id = volume("pvc-moved");
        Path staging = newStaging(id);
        stageOk(id, staging, xfs());
        Files.writeString(staging.resolve("kept"), "x");
        node.close();
        new Mounter().unmount(staging);
        // Started with another kubelet dir, the driver may not act on the record's path.
        node = start(Files.createDirectories(root.resolve("other-kubelet")));
        assertEquals(List.of(), mountsUnder(root), "the staging was not restored outside the trees");
        assertEquals(Optional.of("staged at " + staging), node.service.usage(id), "the record is kept");
        node.close();
        node = start(kubelet);
        assertTrue(MountTable.read().isMountPoint(staging), "restored once the path is inside again");
        assertEquals("x", Files.readString(staging.resolve("kept")));
        unstageOk(id, staging);
    }
}
