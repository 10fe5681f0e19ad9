package dev.pmemcsi.node;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pmemcsi.csi.v1.CapacityRange;
import dev.pmemcsi.csi.v1.NodeExpandVolumeRequest;
import dev.pmemcsi.csi.v1.NodeExpandVolumeResponse;
import dev.pmemcsi.csi.v1.NodeGetCapabilitiesRequest;
import dev.pmemcsi.csi.v1.NodePublishVolumeRequest;
import dev.pmemcsi.csi.v1.NodeServiceCapability;
import dev.pmemcsi.csi.v1.NodeStageVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnpublishVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnstageVolumeRequest;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.csi.v1.VolumeCapability.AccessMode.Mode;
import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.DeviceManager.Expansion;
import dev.pmemcsi.device.InMemoryDeviceManager;
import dev.pmemcsi.device.VolumeAccess;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.driver.VolumeLocks;
import dev.pmemcsi.pmemnative.BlockDevice;
import dev.pmemcsi.pmemnative.CommandRunner;
import dev.pmemcsi.pmemnative.mount.FsStats;
import dev.pmemcsi.pmemnative.mount.MountInfo;
import dev.pmemcsi.pmemnative.mount.MountTable;
import dev.pmemcsi.pmemnative.mount.Mounter;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * NodeExpandVolume on real loop devices, filesystems and mounts. The in-memory device manager
 * grows the volume's record as ControllerExpandVolume would; the test grows the loop device under
 * it (a larger backing file, {@code losetup -c}), as a backend growing in place does. Needs root;
 * every test ends with no mount below its directory and no loop device left.
 */
class NodeExpansionIT {

    private static final long MIB = CapacityMath.MIB;
    private static final long GIB = CapacityMath.GIB;
    private static final CommandRunner RUN = new CommandRunner();

    @TempDir
    Path root;

    private InMemoryDeviceManager devices;
    private InProcessNode node;
    private final List<LoopDevice> loops = new ArrayList<>();

    @BeforeAll
    static void needsRoot() {
        assumeTrue("root".equals(System.getProperty("user.name")), "host integration tests need root");
    }

    @BeforeEach
    void setUp() throws Exception {
        devices = new InMemoryDeviceManager(new long[] {64 * GIB}).offering(Expansion.ONLINE);
        devices.start();
        Files.createDirectories(root.resolve("kubelet/pods"));
        node = new InProcessNode(devices, root.resolve("state"), root.resolve("kubelet"));
    }

    @AfterEach
    void noLeftovers() throws Exception {
        node.close();
        List<MountInfo> left = MountTable.read().under(root);
        for (int i = left.size() - 1; i >= 0; i--) {
            Path p = Path.of(left.get(i).mountPoint());
            while (MountTable.read().isMountPoint(p)) {
                new Mounter().unmount(p);
            }
        }
        List<String> attached = new ArrayList<>();
        for (LoopDevice l : loops) {
            l.close();
            if (l.attached()) {
                attached.add(l.device + " is still attached");
            }
        }
        assertTrue(left.isEmpty(), "mounts left behind: " + left);
        assertTrue(attached.isEmpty(), attached.toString());
    }

    // ------------------------------------------------------------------ helpers

    /** A volume of exactly {@code bytes} (required = limit) for {@code access}, on a loop device of 1100 MiB. */
    private LoopDevice volume(String id, long bytes, VolumeAccess access) throws Exception {
        LoopDevice loop = LoopDevice.create(root, id, 1100 * MIB);
        loops.add(loop);
        devices.createVolume(new VolumeRequest(id, bytes, bytes, VolumeMode.FSDAX, false, Map.of(), access));
        devices.setDevice(id, loop.device, false);
        return loop;
    }

    /** What ControllerExpandVolume and a backend growing in place do: a larger record, a larger device. */
    private void growDevice(String id, LoopDevice loop, long bytes) throws Exception {
        devices.expandVolume(id, bytes, bytes, true);
        try (RandomAccessFile f = new RandomAccessFile(loop.file.toFile(), "rw")) {
            f.setLength(bytes + 64 * MIB);
        }
        RUN.run(List.of("losetup", "-c", loop.device.toString()), Duration.ofSeconds(30));
        assertEquals(bytes + 64 * MIB, BlockDevice.sizeOf(loop.device), "the loop device grew");
    }

    private Path staging(String id) throws Exception {
        Path p = root.resolve("kubelet/plugins/kubernetes.io/csi/pmem-csi.dev/" + id + "/globalmount");
        Files.createDirectories(p);
        return p;
    }

    private Path target(String id) throws Exception {
        Path dir = root.resolve("kubelet/pods/pod-1/volumes/kubernetes.io~csi/" + id);
        Files.createDirectories(dir);
        return dir.resolve("mount");
    }

    private static VolumeCapability mount(String fs) {
        return NodeServiceTest.mountCap(fs, Mode.SINGLE_NODE_WRITER);
    }

    private static VolumeCapability block() {
        return VolumeCapability.newBuilder().setBlock(VolumeCapability.BlockVolume.getDefaultInstance())
                .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(Mode.SINGLE_NODE_WRITER)).build();
    }

    private void stageAndPublish(String id, Path staging, Path target, VolumeCapability cap) {
        node.stub.nodeStageVolume(NodeStageVolumeRequest.newBuilder().setVolumeId(id)
                .setStagingTargetPath(staging.toString()).setVolumeCapability(cap).build());
        node.stub.nodePublishVolume(NodePublishVolumeRequest.newBuilder().setVolumeId(id)
                .setStagingTargetPath(staging.toString()).setTargetPath(target.toString())
                .setVolumeCapability(cap).build());
    }

    private void unpublishAndUnstage(String id, Path staging, Path target) {
        node.stub.nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder().setVolumeId(id)
                .setTargetPath(target.toString()).build());
        node.stub.nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(id)
                .setStagingTargetPath(staging.toString()).build());
    }

    private NodeExpandVolumeResponse expand(String id, Path path, long required) {
        return node.stub.nodeExpandVolume(NodeExpandVolumeRequest.newBuilder().setVolumeId(id)
                .setVolumePath(path.toString())
                .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(required)).build());
    }

    private static Status.Code code(Runnable call) {
        return assertThrows(StatusRuntimeException.class, call::run).getStatus().getCode();
    }

    /** The kernel resizes ext4 only for a process with CAP_SYS_RESOURCE, which the privileged driver has. */
    private static void assumeExt4CanGrow(String fs) {
        assumeTrue(!fs.equals("ext4") || VolumeExpansion.hasCapSysResource(),
                "growing ext4 online needs CAP_SYS_RESOURCE, which this test process lacks");
    }

    private static byte[] sha256(Path file) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file));
    }

    /** The filesystem checker, read-only: the grown filesystem is consistent. */
    private static void fsckClean(String fs, Path device) throws Exception {
        List<String> argv = fs.equals("ext4") ? List.of("e2fsck", "-f", "-n", device.toString())
                : List.of("xfs_repair", "-n", device.toString());
        CommandRunner.Result r = RUN.runAllowingFailure(argv, Duration.ofMinutes(2));
        assertEquals(0, r.exitCode(), String.join(" ", argv) + ": " + r.stdout() + r.stderr());
    }

    // ------------------------------------------------------------------ tests

    @ParameterizedTest
    @ValueSource(strings = {"ext4", "xfs"})
    void aPublishedFilesystemGrowsOnlineAndKeepsItsData(String fs) throws Exception {
        assumeExt4CanGrow(fs);
        String id = "pvc-grow-" + fs;
        LoopDevice loop = volume(id, GIB, VolumeAccess.filesystem(fs));
        Path staging = staging(id);
        Path target = target(id);
        stageAndPublish(id, staging, target, mount(fs));
        byte[] data = new byte[8 * (int) MIB];
        new Random(42).nextBytes(data);
        Files.write(target.resolve("data"), data);
        byte[] sum = sha256(target.resolve("data"));
        long before = FsStats.of(target).totalBytes();
        assertTrue(before <= GIB, "the filesystem has the volume's capacity: " + before);

        growDevice(id, loop, 2 * GIB);
        NodeExpandVolumeResponse r = expand(id, target, 2 * GIB);
        assertEquals(2 * GIB, r.getCapacityBytes());
        long after = FsStats.of(target).totalBytes();
        assertTrue(after > before + GIB * 9 / 10 && after <= 2 * GIB,
                "the filesystem grew to the new capacity, not to the whole device: " + before + " -> " + after);
        assertEquals(after, FsStats.of(staging).totalBytes(), "one filesystem");
        assertArrayEquals(sum, sha256(target.resolve("data")), "the data is intact");

        assertEquals(r, expand(id, target, 2 * GIB), "a repeated call changes nothing");
        assertEquals(after, FsStats.of(target).totalBytes());

        unpublishAndUnstage(id, staging, target);
        fsckClean(fs, loop.device);
        stageAndPublish(id, staging, target, mount(fs));
        assertEquals(after, FsStats.of(target).totalBytes(), "the growth is on disk");
        assertArrayEquals(sum, sha256(target.resolve("data")), "the data is intact after a remount");
        unpublishAndUnstage(id, staging, target);
    }

    @Test
    void aStagedFilesystemGrowsAtItsStagingPath() throws Exception {
        String id = "pvc-staged";
        LoopDevice loop = volume(id, GIB, VolumeAccess.filesystem("xfs"));
        Path staging = staging(id);
        node.stub.nodeStageVolume(NodeStageVolumeRequest.newBuilder().setVolumeId(id)
                .setStagingTargetPath(staging.toString()).setVolumeCapability(mount("xfs")).build());
        long before = FsStats.of(staging).totalBytes();
        growDevice(id, loop, 3 * GIB / 2);
        assertEquals(3 * GIB / 2, expand(id, staging, 0).getCapacityBytes());
        assertTrue(FsStats.of(staging).totalBytes() > before + 400 * MIB);
        node.stub.nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(id)
                .setStagingTargetPath(staging.toString()).build());
    }

    @Test
    void aRawBlockVolumeAnswersItsDeviceSize() throws Exception {
        String id = "pvc-block";
        LoopDevice loop = volume(id, GIB, VolumeAccess.blockOnly());
        Path staging = staging(id);
        Path target = target(id);
        stageAndPublish(id, staging, target, block());
        growDevice(id, loop, 2 * GIB);
        assertEquals(2 * GIB + 64 * MIB, expand(id, target, 2 * GIB).getCapacityBytes());
        assertEquals(2 * GIB + 64 * MIB, BlockDevice.sizeOf(target), "the pod's device node shows the growth");
        unpublishAndUnstage(id, staging, target);
    }

    @Test
    void aPathThatIsNotTheVolumesIsNotFound() throws Exception {
        String id = "pvc-a";
        volume(id, GIB, VolumeAccess.filesystem("ext4"));
        String other = "pvc-b";
        volume(other, GIB, VolumeAccess.filesystem("ext4"));
        Path staging = staging(id);
        Path target = target(id);
        Path otherStaging = staging(other);
        Path otherTarget = target(other);
        stageAndPublish(id, staging, target, mount("ext4"));
        stageAndPublish(other, otherStaging, otherTarget, mount("ext4"));

        assertEquals(Status.Code.NOT_FOUND, code(() -> expand(id, otherTarget, GIB)), "another volume's target");
        assertEquals(Status.Code.NOT_FOUND, code(() -> expand(id, root.resolve("kubelet/pods/none/mount"), GIB)));
        assertEquals(Status.Code.NOT_FOUND, code(() -> expand(id, Path.of("/etc"), GIB)), "outside the kubelet tree");
        assertEquals(Status.Code.NOT_FOUND, code(() -> expand("pvc-unknown", target, GIB)));
        assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> expand("", target, GIB)));
        assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> node.stub.nodeExpandVolume(
                NodeExpandVolumeRequest.newBuilder().setVolumeId(id).build())));
        unpublishAndUnstage(id, staging, target);
        unpublishAndUnstage(other, otherStaging, otherTarget);
    }

    @Test
    @SuppressWarnings("try") // the lock is held for the block
    void refusalsLeaveTheFilesystemAsItWas() throws Exception {
        String id = "pvc-refused";
        LoopDevice loop = volume(id, GIB, VolumeAccess.filesystem("xfs"));
        Path staging = staging(id);
        Path target = target(id);
        stageAndPublish(id, staging, target, mount("xfs"));
        long before = FsStats.of(target).totalBytes();

        assertEquals(Status.Code.OUT_OF_RANGE, code(() -> expand(id, target, 2 * GIB)),
                "the volume has not grown on the controller yet");
        devices.expandVolume(id, 2 * GIB, 2 * GIB, true);
        assertEquals(Status.Code.FAILED_PRECONDITION, code(() -> expand(id, target, 2 * GIB)),
                "the device has not grown");
        growDevice(id, loop, 2 * GIB);
        try (VolumeLocks.Held held = node.locks.tryAcquire(id).orElseThrow()) {
            assertEquals(Status.Code.ABORTED, code(() -> expand(id, target, 2 * GIB)));
        }
        assertEquals(before, FsStats.of(target).totalBytes());
        expand(id, target, 2 * GIB);
        assertTrue(FsStats.of(target).totalBytes() > before);
        unpublishAndUnstage(id, staging, target);
    }

    @Test
    void withoutCapSysResourceTheExt4RefusalSaysWhy() throws Exception {
        assumeFalse(VolumeExpansion.hasCapSysResource(), "this test process may resize ext4");
        String id = "pvc-nocap";
        LoopDevice loop = volume(id, GIB, VolumeAccess.filesystem("ext4"));
        Path staging = staging(id);
        Path target = target(id);
        stageAndPublish(id, staging, target, mount("ext4"));
        growDevice(id, loop, 2 * GIB);
        Status s = assertThrows(StatusRuntimeException.class, () -> expand(id, target, 2 * GIB)).getStatus();
        assertTrue(s.getDescription().contains("CAP_SYS_RESOURCE"), s.getDescription());
        unpublishAndUnstage(id, staging, target);
    }

    @Test
    void theCapabilityFollowsTheBackend() throws Exception {
        assertTrue(capabilities().contains(NodeServiceCapability.RPC.Type.EXPAND_VOLUME));
        node.close();
        devices.offering(Expansion.NONE);
        node = new InProcessNode(devices, root.resolve("state"), root.resolve("kubelet"));
        assertFalse(capabilities().contains(NodeServiceCapability.RPC.Type.EXPAND_VOLUME));
        Path target = target("pvc-x");
        assertEquals(Status.Code.UNIMPLEMENTED, code(() -> expand("pvc-x", target, GIB)));
    }

    private List<NodeServiceCapability.RPC.Type> capabilities() {
        return node.stub.nodeGetCapabilities(NodeGetCapabilitiesRequest.getDefaultInstance()).getCapabilitiesList()
                .stream().map(c -> c.getRpc().getType()).toList();
    }
}
