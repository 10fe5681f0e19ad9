package dev.pmemcsi.node;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pmemcsi.csi.v1.NodeGetVolumeStatsRequest;
import dev.pmemcsi.csi.v1.NodeGetVolumeStatsResponse;
import dev.pmemcsi.csi.v1.NodePublishVolumeRequest;
import dev.pmemcsi.csi.v1.NodeStageVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnpublishVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnstageVolumeRequest;
import dev.pmemcsi.csi.v1.VolumeCapability.AccessMode.Mode;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.csi.v1.VolumeUsage.Unit;
import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.InMemoryDeviceManager;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.pmemnative.BlockDevice;
import dev.pmemcsi.pmemnative.mount.MountInfo;
import dev.pmemcsi.pmemnative.mount.MountOptions;
import dev.pmemcsi.pmemnative.mount.MountTable;
import dev.pmemcsi.pmemnative.mount.Mounter;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The node service on real loop devices with real mkfs and mounts. Needs root. Every test ends
 * with no mount below its directory and no loop device left, which {@link #noLeftovers()} asserts.
 */
class NodeServiceIT {

    /** xfs with a 2 MiB stripe unit needs a log of 64 MiB, so devices are a little over 1 GiB. */
    private static final long DEVICE_BYTES = 1100 * CapacityMath.MIB;

    @TempDir
    Path root;

    private InMemoryDeviceManager devices;
    private InProcessNode node;
    private Path stateDir;
    private final List<LoopDevice> loops = new ArrayList<>();
    /** Mounts a test made itself to stand for the host, unmounted after the driver's are checked. */
    private final List<Path> hostMounts = new ArrayList<>();

    @BeforeAll
    static void needsRoot() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "host integration tests need root");
    }

    @BeforeEach
    void setUp() throws Exception {
        devices = new InMemoryDeviceManager(new long[] {64 * CapacityMath.GIB});
        devices.start();
        stateDir = root.resolve("state");
        Files.createDirectories(root.resolve("kubelet/pods"));
        node = new InProcessNode(devices, stateDir, root.resolve("kubelet"));
    }

    @AfterEach
    void noLeftovers() throws Exception {
        node.close();
        List<MountInfo> left = MountTable.read().under(root).stream()
                .filter(m -> !hostMounts.contains(Path.of(m.mountPoint()))).toList();
        for (int i = left.size() - 1; i >= 0; i--) {
            unmountIfMounted(Path.of(left.get(i).mountPoint()));
        }
        for (int i = hostMounts.size() - 1; i >= 0; i--) {
            unmountIfMounted(hostMounts.get(i));
        }
        List<String> attached = new ArrayList<>();
        for (LoopDevice l : loops) {
            if (MountTable.read().mounts().stream().anyMatch(m -> m.source().equals(l.device.toString()))) {
                attached.add(l.device + " is mounted");
            }
            l.close();
            if (l.attached()) {
                attached.add(l.device + " is still attached");
            }
        }
        assertTrue(left.isEmpty(), "mounts left behind: " + left);
        assertTrue(attached.isEmpty(), attached.toString());
    }

    /** Unmounting one peer unmounts its copies in the others, so a copy may be gone already. */
    private static void unmountIfMounted(Path p) throws Exception {
        while (MountTable.read().isMountPoint(p)) {
            new Mounter().unmount(p);
        }
    }

    // ------------------------------------------------------------------ helpers

    private String volume(String id, boolean daxCapable) throws Exception {
        LoopDevice loop = LoopDevice.create(root, id, DEVICE_BYTES);
        loops.add(loop);
        devices.createVolume(new VolumeRequest(id, CapacityMath.GIB, 0, VolumeMode.FSDAX, true, Map.of()));
        devices.setDevice(id, loop.device, daxCapable);
        return id;
    }

    private Path staging(String id) throws IOException {
        Path p = root.resolve("kubelet/plugins/kubernetes.io/csi/pmem-csi.dev/" + id + "/globalmount");
        Files.createDirectories(p);
        return p;
    }

    private Path target(String pod, String id) throws IOException {
        Path dir = root.resolve("kubelet/pods/" + pod + "/volumes/kubernetes.io~csi/" + id);
        Files.createDirectories(dir);
        return dir.resolve("mount");
    }

    static VolumeCapability mount(String fs, Mode mode, String... flags) {
        return NodeServiceTest.mountCap(fs, mode, flags);
    }

    static VolumeCapability block(Mode mode) {
        return VolumeCapability.newBuilder().setBlock(VolumeCapability.BlockVolume.getDefaultInstance())
                .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(mode)).build();
    }

    private void stage(String id, Path staging, VolumeCapability cap) {
        node.stub.nodeStageVolume(NodeStageVolumeRequest.newBuilder().setVolumeId(id)
                .setStagingTargetPath(staging.toString()).setVolumeCapability(cap).build());
    }

    private void unstage(String id, Path staging) {
        node.stub.nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(id)
                .setStagingTargetPath(staging.toString()).build());
    }

    private void publish(String id, Path staging, Path target, VolumeCapability cap, boolean ro) {
        node.stub.nodePublishVolume(NodePublishVolumeRequest.newBuilder().setVolumeId(id)
                .setStagingTargetPath(staging.toString()).setTargetPath(target.toString())
                .setVolumeCapability(cap).setReadonly(ro).build());
    }

    private void unpublish(String id, Path target) {
        node.stub.nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder().setVolumeId(id)
                .setTargetPath(target.toString()).build());
    }

    private NodeGetVolumeStatsResponse stats(String id, Path path) {
        return node.stub.nodeGetVolumeStats(NodeGetVolumeStatsRequest.newBuilder().setVolumeId(id)
                .setVolumePath(path.toString()).build());
    }

    private static Status.Code code(Runnable call) {
        return assertThrows(StatusRuntimeException.class, call::run).getStatus().getCode();
    }

    private void restart() throws Exception {
        node.close();
        node = new InProcessNode(devices, stateDir, root.resolve("kubelet"));
    }

    private static MountInfo mountAt(Path p) throws IOException {
        return MountTable.read().top(p).orElseThrow(() -> new AssertionError("nothing mounted at " + p));
    }

    private static boolean mounted(Path p) throws IOException {
        return MountTable.read().isMountPoint(p);
    }

    // ------------------------------------------------------------------ filesystem volumes

    @ParameterizedTest
    @ValueSource(strings = {"ext4", "xfs"})
    void filesystemLifecycleIsIdempotentAndKeepsData(String fs) throws Exception {
        String id = volume("pvc-life-" + fs, false);
        Path staging = staging(id);
        Path rw = target("pod-a", id);
        Path ro = target("pod-b", id);
        VolumeCapability cap = mount(fs, Mode.SINGLE_NODE_MULTI_WRITER, "noatime");

        stage(id, staging, cap);
        stage(id, staging, cap);
        MountInfo staged = mountAt(staging);
        assertEquals(fs, staged.fsType());
        assertTrue(staged.mountOptions().contains("noatime"), staged.toString());
        assertFalse(staged.hasOption("dax") || staged.hasOption("dax=always"), "loop devices have no DAX");
        if (fs.equals("xfs")) {
            assertTrue(LoopDevice.run("xfs_io", "-c", "extsize", staging.toString()).contains("[2097152]"));
        } else {
            String sb = LoopDevice.run("dumpe2fs", "-h", mountAt(staging).source());
            assertTrue(sb.contains("RAID stride:              512") && sb.contains("Block size:               4096"), sb);
        }

        publish(id, staging, rw, cap, false);
        publish(id, staging, rw, cap, false);
        publish(id, staging, ro, cap, true);
        publish(id, staging, ro, cap, true);
        assertFalse(mountAt(rw).readOnly());
        assertTrue(mountAt(ro).readOnly());
        Files.writeString(rw.resolve("data.txt"), "persistent " + fs);
        assertEquals("persistent " + fs, Files.readString(ro.resolve("data.txt")));
        assertThrows(IOException.class, () -> Files.writeString(ro.resolve("nope"), "x"));
        assertEquals("published at " + rw + ", published at " + ro + ", staged at " + staging,
                node.service.usage(id).orElseThrow());

        NodeGetVolumeStatsResponse st = stats(id, rw);
        assertFalse(st.getVolumeCondition().getAbnormal(), st.toString());
        assertEquals(List.of(Unit.BYTES, Unit.INODES), st.getUsageList().stream().map(u -> u.getUnit()).toList());
        assertTrue(st.getUsage(0).getTotal() > 900 * CapacityMath.MIB && st.getUsage(0).getUsed() > 0, st.toString());
        assertTrue(st.getUsage(1).getTotal() > 0 && st.getUsage(1).getUsed() > 0, st.toString());
        assertFalse(stats(id, staging).getVolumeCondition().getAbnormal());

        unpublish(id, rw);
        unpublish(id, rw);
        unpublish(id, ro);
        assertFalse(Files.exists(rw) || Files.exists(ro), "targets are removed");
        assertEquals(Status.Code.NOT_FOUND, code(() -> stats(id, rw)));
        unstage(id, staging);
        unstage(id, staging);
        assertFalse(mounted(staging));
        assertTrue(node.service.usage(id).isEmpty());

        // Staging again finds the filesystem and never reformats it.
        stage(id, staging, cap);
        publish(id, staging, rw, cap, false);
        assertEquals("persistent " + fs, Files.readString(rw.resolve("data.txt")));
        unpublish(id, rw);
        unstage(id, staging);
    }

    @ParameterizedTest
    @ValueSource(strings = {"ext4", "xfs"})
    void driverRestartBetweenStageAndPublish(String fs) throws Exception {
        String id = volume("pvc-restart-" + fs, false);
        Path staging = staging(id);
        Path target = target("pod-r", id);
        VolumeCapability cap = mount(fs, Mode.SINGLE_NODE_WRITER);
        stage(id, staging, cap);
        restart();
        assertTrue(mounted(staging), "a restart keeps a finished staging");
        stage(id, staging, cap);
        publish(id, staging, target, cap, false);
        Files.writeString(target.resolve("f"), "after restart");
        restart();
        assertEquals("after restart", Files.readString(target.resolve("f")));
        assertFalse(stats(id, target).getVolumeCondition().getAbnormal());
        unpublish(id, target);
        restart();
        unstage(id, staging);
        assertFalse(mounted(staging));
    }

    @Test
    void readOnlyAccessModeMountsReadOnly() throws Exception {
        String id = volume("pvc-reader", false);
        Path staging = staging(id);
        Path target = target("pod-ro", id);
        // Format it first with a writer, as a reader would find a populated volume.
        stage(id, staging, mount("ext4", Mode.SINGLE_NODE_WRITER));
        unstage(id, staging);
        VolumeCapability reader = mount("ext4", Mode.SINGLE_NODE_READER_ONLY);
        stage(id, staging, reader);
        publish(id, staging, target, reader, true);
        assertTrue(mountAt(staging).readOnly());
        assertTrue(mountAt(target).readOnly());
        unpublish(id, target);
        unstage(id, staging);
    }

    /**
     * The kubelet dir as the DaemonSet sees it: the driver's copy and the host's are peers of one
     * shared mount, so a mount made in one appears in the other. Returns the host's copy.
     */
    private Path shareKubeletDirWithAPeer() throws Exception {
        Path kubelet = root.resolve("kubelet");
        Path peer = root.resolve("host-kubelet");
        Files.createDirectories(peer);
        LoopDevice.run("mount", "--bind", kubelet.toString(), kubelet.toString());
        hostMounts.add(kubelet);
        LoopDevice.run("mount", "--make-shared", kubelet.toString());
        LoopDevice.run("mount", "--bind", kubelet.toString(), peer.toString());
        hostMounts.add(peer);
        assertTrue(mountAt(peer).optionalFields().stream().anyMatch(f -> f.startsWith("shared:")),
                "the peer shares mounts: " + mountAt(peer));
        return peer;
    }

    private Path inPeer(Path peer, Path p) {
        return peer.resolve(root.resolve("kubelet").relativize(p));
    }

    private static void assertReadOnlyFilesystem(Path dir) {
        IOException e = assertThrows(IOException.class, () -> Files.writeString(dir.resolve("nope"), "x"));
        assertTrue(String.valueOf(e.getMessage()).contains("Read-only file system"), e.toString());
    }

    @Test
    void readOnlyPublishIsReadOnlyInEveryPeerOfTheKubeletDir() throws Exception {
        Path peer = shareKubeletDirWithAPeer();
        String id = volume("pvc-peer", false);
        Path staging = staging(id);
        Path rw = target("pod-rw", id);
        Path ro = target("pod-ro", id);
        VolumeCapability cap = mount("ext4", Mode.SINGLE_NODE_MULTI_WRITER);
        VolumeCapability restricted = mount("ext4", Mode.SINGLE_NODE_MULTI_WRITER, "nosuid", "nodev", "noexec");
        stage(id, staging, cap);
        publish(id, staging, rw, cap, false);
        publish(id, staging, ro, restricted, true);

        Files.writeString(rw.resolve("driver"), "written by the driver's copy");
        Files.writeString(inPeer(peer, rw).resolve("host"), "written by the host's copy");
        assertEquals("written by the host's copy", Files.readString(ro.resolve("host")));
        assertFalse(mountAt(inPeer(peer, rw)).mountOptions().contains("ro"), mountAt(inPeer(peer, rw)).toString());
        for (Path p : List.of(ro, inPeer(peer, ro))) {
            assertReadOnlyFilesystem(p);
            assertEquals("written by the driver's copy", Files.readString(p.resolve("driver")));
            List<String> options = mountAt(p).mountOptions();
            assertTrue(options.containsAll(List.of("ro", "nosuid", "nodev", "noexec")), p + ": " + options);
        }

        // A restart after a reboot restores the publication the same way.
        unmountIfMounted(ro);
        assertFalse(mounted(inPeer(peer, ro)), "the unmount propagated");
        restart();
        for (Path p : List.of(ro, inPeer(peer, ro))) {
            assertReadOnlyFilesystem(p);
            List<String> options = mountAt(p).mountOptions();
            assertTrue(options.containsAll(List.of("ro", "nosuid", "nodev", "noexec")), p + ": " + options);
        }

        unpublish(id, ro);
        unpublish(id, rw);
        unstage(id, staging);
        assertTrue(MountTable.read().under(root).stream().allMatch(m -> hostMounts.contains(Path.of(m.mountPoint()))),
                "only the shared kubelet dir and its peer are left: " + MountTable.read().under(root));
    }

    @Test
    void readOnlyBlockPublishIsReadOnlyInEveryPeerOfTheKubeletDir() throws Exception {
        Path peer = shareKubeletDirWithAPeer();
        String id = volume("pvc-peer-block", false);
        Path staging = staging(id);
        Path target = target("pod-block", id);
        VolumeCapability cap = block(Mode.SINGLE_NODE_READER_ONLY);
        stage(id, staging, cap);
        publish(id, staging, target, cap, false);
        for (Path p : List.of(target, inPeer(peer, target))) {
            assertTrue(mountAt(p).mountOptions().contains("ro"), mountAt(p).toString());
        }
        unpublish(id, target);
        unstage(id, staging);
    }

    @Test
    void conflictsFollowTheSpec() throws Exception {
        String id = volume("pvc-conflict", false);
        Path staging = staging(id);
        Path t1 = target("pod-1", id);
        Path t2 = target("pod-2", id);
        VolumeCapability single = mount("ext4", Mode.SINGLE_NODE_SINGLE_WRITER);
        stage(id, staging, single);
        assertEquals(Status.Code.ALREADY_EXISTS, code(() -> stage(id, staging, mount("xfs", Mode.SINGLE_NODE_SINGLE_WRITER))));
        publish(id, staging, t1, single, false);
        assertEquals(Status.Code.ALREADY_EXISTS, code(() -> publish(id, staging, t1, single, true)));
        assertEquals(Status.Code.FAILED_PRECONDITION, code(() -> publish(id, staging, t2, single, false)));
        assertFalse(Files.exists(t2));
        assertEquals(Status.Code.FAILED_PRECONDITION, code(() -> unstage(id, staging)), "still published");
        unpublish(id, t1);
        unstage(id, staging);
    }

    @Test
    void anotherFilesystemIsNeverReformatted() throws Exception {
        String id = volume("pvc-foreign", false);
        LoopDevice.run("mkfs.xfs", "-q", devices.getVolume(id).orElseThrow().devicePath().toString());
        Path staging = staging(id);
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> stage(id, staging, mount("ext4", Mode.SINGLE_NODE_WRITER)));
        assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().contains("xfs"), e.getStatus().getDescription());
        assertFalse(mounted(staging));
        assertTrue(node.service.usage(id).isEmpty());
        assertTrue(LoopDevice.run("blkid", "-p", "-o", "export",
                devices.getVolume(id).orElseThrow().devicePath().toString()).contains("TYPE=xfs"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"ext4", "xfs"})
    void daxThatTheKernelRefusesFailsCleanly(String fs) throws Exception {
        // A device that claims DAX but is a loop device: ext4 refuses the mount, xfs mounts with dax=never.
        String id = volume("pvc-nodax-" + fs, true);
        Path staging = staging(id);
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> stage(id, staging, mount(fs, Mode.SINGLE_NODE_WRITER)));
        assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode(), e.getStatus().toString());
        assertTrue(e.getStatus().getDescription().contains("DAX"), e.getStatus().getDescription());
        assertFalse(mounted(staging));
        assertTrue(node.service.usage(id).isEmpty());
    }

    @Test
    void pathsOfTheWrongTypeAreRefusedBeforeMkfs() throws Exception {
        String id = volume("pvc-wrong-type", false);
        Path staging = staging(id);
        Files.delete(staging);
        Files.createFile(staging);
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> stage(id, staging, mount("ext4", Mode.SINGLE_NODE_WRITER)));
        assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode(), e.getStatus().toString());
        assertTrue(e.getStatus().getDescription().contains("is not a directory"), e.getStatus().getDescription());
        assertEquals("", LoopDevice.run("wipefs", "-n", device(id)).strip(),
                "mkfs never ran on the device");
        assertTrue(node.service.usage(id).isEmpty());

        // An ephemeral volume is not even created for a target that is a file.
        String kubeletId = "csi-wrong-type";
        Path target = target("pod-wt", kubeletId);
        Files.createFile(target);
        assertEquals(Status.Code.FAILED_PRECONDITION,
                code(() -> node.stub.nodePublishVolume(ephemeralRequest(kubeletId, target, "ext4", null))));
        assertTrue(devices.erasedVolumes().isEmpty(), "no ephemeral volume was created and deleted again");
        assertTrue(devices.getVolume(VolumeIds.ephemeral(kubeletId)).isEmpty());
        assertTrue(Files.isRegularFile(target));
    }

    // ------------------------------------------------------------------ raw block

    @Test
    void blockLifecycleKeepsData() throws Exception {
        String id = volume("pvc-block", false);
        Path staging = staging(id);
        Path rw = target("pod-b1", id);
        Path ro = target("pod-b2", id);
        VolumeCapability cap = block(Mode.SINGLE_NODE_MULTI_WRITER);
        stage(id, staging, cap);
        stage(id, staging, cap);
        publish(id, staging, rw, cap, false);
        publish(id, staging, rw, cap, false);
        publish(id, staging, ro, cap, true);
        assertTrue(Files.isRegularFile(rw) || mounted(rw));
        assertTrue(mountAt(ro).readOnly());
        byte[] data = "raw block bytes".getBytes(StandardCharsets.UTF_8);
        try (FileChannel ch = FileChannel.open(rw, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(data), 4096);
            ch.force(true);
        }
        NodeGetVolumeStatsResponse st = stats(id, rw);
        assertEquals(1, st.getUsageCount());
        assertEquals(DEVICE_BYTES, st.getUsage(0).getTotal());
        assertEquals(Unit.BYTES, st.getUsage(0).getUnit());
        assertFalse(st.getVolumeCondition().getAbnormal());
        assertEquals(DEVICE_BYTES, stats(id, staging).getUsage(0).getTotal());

        unpublish(id, rw);
        unpublish(id, ro);
        unpublish(id, ro);
        assertFalse(Files.exists(rw) || Files.exists(ro));
        unstage(id, staging);
        unstage(id, staging);

        stage(id, staging, cap);
        publish(id, staging, rw, cap, false);
        byte[] back = new byte[data.length];
        try (RandomAccessFile f = new RandomAccessFile(rw.toFile(), "r")) {
            f.seek(4096);
            f.readFully(back);
        }
        assertArrayEquals(data, back);
        assertEquals(DEVICE_BYTES, BlockDevice.sizeOf(rw));
        unpublish(id, rw);
        unstage(id, staging);
    }

    // ------------------------------------------------------------------ ephemeral inline volumes

    private NodePublishVolumeRequest ephemeralRequest(String kubeletId, Path target, String fs, String erase) {
        NodePublishVolumeRequest.Builder b = NodePublishVolumeRequest.newBuilder().setVolumeId(kubeletId)
                .setTargetPath(target.toString()).setVolumeCapability(mount(fs, Mode.SINGLE_NODE_WRITER))
                .putVolumeContext("csi.storage.k8s.io/ephemeral", "true")
                .putVolumeContext("csi.storage.k8s.io/pod.name", "memcached-0")
                .putVolumeContext("csi.storage.k8s.io/pod.namespace", "default")
                .putVolumeContext("size", "1Gi");
        if (erase != null) {
            b.putVolumeContext("eraseafter", erase);
        }
        return b.build();
    }

    @ParameterizedTest
    @ValueSource(strings = {"ext4", "xfs"})
    void ephemeralVolumeLivesFromPublishToUnpublish(String fs) throws Exception {
        String kubeletId = "csi-4f1e0c" + fs;
        String deviceId = VolumeIds.ephemeral(kubeletId);
        LoopDevice loop = LoopDevice.create(root, "eph-" + fs, DEVICE_BYTES);
        loops.add(loop);
        devices.setDevice(deviceId, loop.device, false);
        Path target = target("pod-e", kubeletId);

        node.stub.nodePublishVolume(ephemeralRequest(kubeletId, target, fs, null));
        node.stub.nodePublishVolume(ephemeralRequest(kubeletId, target, fs, null));
        assertEquals(fs, mountAt(target).fsType());
        assertTrue(devices.getVolume(deviceId).isPresent());
        assertEquals("published at " + target, node.service.usage(deviceId).orElseThrow());
        Files.writeString(target.resolve("cache"), "ephemeral");

        restart();
        assertEquals("ephemeral", Files.readString(target.resolve("cache")), "a restart loses nothing");
        NodeGetVolumeStatsResponse st = stats(kubeletId, target);
        assertFalse(st.getVolumeCondition().getAbnormal(), st.toString());
        assertEquals(2, st.getUsageCount());
        node.stub.nodePublishVolume(ephemeralRequest(kubeletId, target, fs, null));

        unpublish(kubeletId, target);
        unpublish(kubeletId, target);
        assertFalse(Files.exists(target));
        assertTrue(devices.getVolume(deviceId).isEmpty(), "unpublish deletes an ephemeral volume");
        assertEquals(List.of(deviceId), devices.erasedVolumes(), "eraseafter defaults to true");
        assertTrue(node.service.usage(deviceId).isEmpty());
    }

    @Test
    void ephemeralEraseAfterFalseIsHonoured() throws Exception {
        String kubeletId = "csi-noerase";
        LoopDevice loop = LoopDevice.create(root, "eph-noerase", DEVICE_BYTES);
        loops.add(loop);
        devices.setDevice(VolumeIds.ephemeral(kubeletId), loop.device, false);
        Path target = target("pod-n", kubeletId);
        node.stub.nodePublishVolume(ephemeralRequest(kubeletId, target, "ext4", "false"));
        unpublish(kubeletId, target);
        assertTrue(devices.erasedVolumes().isEmpty());
        assertTrue(devices.listVolumes().isEmpty());
    }

    @Test
    void failedEphemeralPublishLeavesNoVolume() throws Exception {
        String kubeletId = "csi-fails";
        String deviceId = VolumeIds.ephemeral(kubeletId);
        LoopDevice loop = LoopDevice.create(root, "eph-fail", DEVICE_BYTES);
        loops.add(loop);
        devices.setDevice(deviceId, loop.device, true);
        Path target = target("pod-f", kubeletId);
        assertEquals(Status.Code.FAILED_PRECONDITION,
                code(() -> node.stub.nodePublishVolume(ephemeralRequest(kubeletId, target, "ext4", null))));
        assertTrue(devices.getVolume(deviceId).isEmpty());
        assertFalse(Files.exists(target));
        assertTrue(node.service.usage(deviceId).isEmpty());
    }

    @Test
    void anEphemeralVolumeNeverUsesOrDeletesAPersistentVolume() throws Exception {
        // A persistent volume as CreateVolume makes it for the name "shared-name", staged, with data.
        String name = "shared-name";
        String persistent = volume(VolumeIds.fromName(name), false);
        Path staging = staging(persistent);
        VolumeCapability cap = mount("ext4", Mode.SINGLE_NODE_WRITER);
        stage(persistent, staging, cap);
        Files.writeString(staging.resolve("precious"), "persistent data");
        Path device = devices.getVolume(persistent).orElseThrow().devicePath();

        // kubelet's ephemeral volume ID equal to the persistent volume's name, then to its ID.
        for (String kubeletId : List.of(name, persistent)) {
            String deviceId = VolumeIds.ephemeral(kubeletId);
            LoopDevice loop = LoopDevice.create(root, "eph-clash-" + loops.size(), DEVICE_BYTES);
            loops.add(loop);
            devices.setDevice(deviceId, loop.device, false);
            Path target = target("pod-clash", kubeletId);
            node.stub.nodePublishVolume(ephemeralRequest(kubeletId, target, "ext4", "false"));
            assertEquals(loop.device.toString(), mountAt(target).source(), kubeletId);
            assertFalse(Files.exists(target.resolve("precious")), "the pod never sees the persistent volume's data");
            unpublish(kubeletId, target);
            assertTrue(devices.getVolume(deviceId).isEmpty(), "the ephemeral volume is deleted");
            assertTrue(devices.getVolume(persistent).isPresent(), "the persistent volume is not");
        }
        assertEquals(device.toString(), mountAt(staging).source());
        assertEquals("persistent data", Files.readString(staging.resolve("precious")));
        assertEquals("staged at " + staging, node.service.usage(persistent).orElseThrow());
        unstage(persistent, staging);
    }

    // ------------------------------------------------------------------ one path, one volume

    private static final int ROUNDS = 6;

    /** Runs both calls at once (released by one latch) and returns their codes, OK included. */
    private static List<Status.Code> race(Runnable a, Runnable b) throws Exception {
        CountDownLatch ready = new CountDownLatch(2);
        CountDownLatch go = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<Status.Code>> results = new ArrayList<>();
            for (Runnable call : List.of(a, b)) {
                results.add(pool.submit(() -> {
                    ready.countDown();
                    go.await();
                    try {
                        call.run();
                        return Status.Code.OK;
                    } catch (StatusRuntimeException e) {
                        return e.getStatus().getCode();
                    }
                }));
            }
            ready.await();
            go.countDown();
            List<Status.Code> codes = new ArrayList<>();
            for (Future<Status.Code> f : results) {
                codes.add(f.get(60, TimeUnit.SECONDS));
            }
            return codes;
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void twoVolumesNeverShareAStagingPath() throws Exception {
        String a = volume("pvc-share-a", false);
        String b = volume("pvc-share-b", false);
        Path shared = staging("shared");
        VolumeCapability cap = mount("ext4", Mode.SINGLE_NODE_WRITER);
        for (int round = 0; round < ROUNDS; round++) {
            List<Status.Code> codes = race(() -> stage(a, shared, cap), () -> stage(b, shared, cap));
            assertEquals(1, codes.stream().filter(c -> c == Status.Code.OK).count(), "round " + round + ": " + codes);
            assertTrue(codes.stream().allMatch(c -> c == Status.Code.OK || c == Status.Code.ABORTED
                    || c == Status.Code.FAILED_PRECONDITION), "round " + round + ": " + codes);
            String winner = codes.get(0) == Status.Code.OK ? a : b;
            String loser = winner.equals(a) ? b : a;
            assertEquals(1, MountTable.read().at(shared).size(), "round " + round + ": one mount");
            assertEquals(devices.getVolume(winner).orElseThrow().devicePath().toString(), mountAt(shared).source());
            assertTrue(node.service.usage(loser).isEmpty(), "round " + round);

            // Once the path is taken, a second volume is refused without any race.
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> stage(loser, shared, cap));
            assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
            assertTrue(e.getStatus().getDescription().contains(winner), e.getStatus().getDescription());
            unstage(loser, shared);
            assertTrue(mounted(shared), "unstaging the other volume leaves the winner's mount alone");
            unstage(winner, shared);
            assertFalse(mounted(shared));
        }
    }

    @Test
    void twoVolumesNeverShareATarget() throws Exception {
        String a = volume("pvc-tgt-a", false);
        String b = volume("pvc-tgt-b", false);
        Path sa = staging(a);
        Path sb = staging(b);
        Path shared = target("pod-shared", "shared");
        VolumeCapability cap = mount("ext4", Mode.SINGLE_NODE_WRITER);
        stage(a, sa, cap);
        stage(b, sb, cap);
        for (int round = 0; round < ROUNDS; round++) {
            List<Status.Code> codes = race(() -> publish(a, sa, shared, cap, false),
                    () -> publish(b, sb, shared, cap, false));
            assertEquals(1, codes.stream().filter(c -> c == Status.Code.OK).count(), "round " + round + ": " + codes);
            assertTrue(codes.stream().allMatch(c -> c == Status.Code.OK || c == Status.Code.ABORTED
                    || c == Status.Code.ALREADY_EXISTS), "round " + round + ": " + codes);
            String winner = codes.get(0) == Status.Code.OK ? a : b;
            assertEquals(1, MountTable.read().at(shared).size(), "round " + round + ": one mount");
            assertEquals(devices.getVolume(winner).orElseThrow().devicePath().toString(), mountAt(shared).source());
            unpublish(winner, shared);
            assertFalse(mounted(shared));
        }
        unstage(a, sa);
        unstage(b, sb);
    }

    @Test
    void stagingMountsAndPublicationsAreNeverMistakenForEachOther() throws Exception {
        String id = volume("pvc-mixup", false);
        Path staging = staging(id);
        Path target = target("pod-mx", id);
        VolumeCapability cap = mount("ext4", Mode.SINGLE_NODE_WRITER);
        stage(id, staging, cap);
        publish(id, staging, target, cap, false);

        // Unpublish at the volume's own staging path: that is no publication.
        assertEquals(Status.Code.FAILED_PRECONDITION, code(() -> unpublish(id, staging)));
        assertTrue(mounted(staging), "the staging mount stays");
        assertTrue(Files.isDirectory(staging), "kubelet's staging directory stays");
        assertEquals(device(id), mountAt(target).source());
        // Publish onto a staging path, stage onto a publication target.
        assertEquals(Status.Code.FAILED_PRECONDITION, code(() -> publish(id, staging, staging, cap, false)));
        assertEquals(1, MountTable.read().at(staging).size());

        // Unstage at a publication target, with kubelet's ID of an ephemeral volume published there.
        String kubeletId = "csi-mixup";
        LoopDevice loop = LoopDevice.create(root, "eph-mixup", DEVICE_BYTES);
        loops.add(loop);
        devices.setDevice(VolumeIds.ephemeral(kubeletId), loop.device, false);
        Path eph = target("pod-mx2", kubeletId);
        node.stub.nodePublishVolume(ephemeralRequest(kubeletId, eph, "ext4", null));
        assertEquals(Status.Code.FAILED_PRECONDITION, code(() -> unstage(kubeletId, eph)));
        assertEquals(loop.device.toString(), mountAt(eph).source(), "the publication stays");
        String other = volume("pvc-mixup-2", false);
        assertEquals(Status.Code.FAILED_PRECONDITION, code(() -> stage(other, target, cap)));
        assertEquals(1, MountTable.read().at(target).size());

        unpublish(kubeletId, eph);
        unpublish(id, target);
        unstage(id, staging);
        assertFalse(mounted(staging));
    }

    private String device(String id) throws Exception {
        return devices.getVolume(id).orElseThrow().devicePath().toString();
    }

    // ------------------------------------------------------------------ stats and health

    @Test
    void volumeConditionReportsBadBlocksVanishedDevicesAndLostMounts() throws Exception {
        String id = volume("pvc-health", false);
        Path staging = staging(id);
        Path target = target("pod-h", id);
        VolumeCapability cap = mount("ext4", Mode.SINGLE_NODE_WRITER);
        stage(id, staging, cap);
        publish(id, staging, target, cap, false);
        assertEquals(Status.Code.NOT_FOUND, code(() -> stats(id, root.resolve("kubelet/pods/elsewhere"))));
        assertEquals(Status.Code.NOT_FOUND, code(() -> stats("pvc-other", target)));

        devices.setBadBlocks(id, 3);
        NodeGetVolumeStatsResponse bad = stats(id, target);
        assertTrue(bad.getVolumeCondition().getAbnormal());
        assertTrue(bad.getVolumeCondition().getMessage().contains("3 bad blocks"), bad.toString());
        devices.setBadBlocks(id, 0);

        devices.setGone(id);
        assertTrue(stats(id, target).getVolumeCondition().getMessage().contains("disappeared"));
        devices.deleteVolume(id, false);
        devices.createVolume(new VolumeRequest(id, CapacityMath.GIB, 0, VolumeMode.FSDAX, true, Map.of()));
        devices.setDevice(id, loops.get(0).device, false);

        new Mounter().unmount(target);
        StatusRuntimeException lost = assertThrows(StatusRuntimeException.class, () -> stats(id, target));
        assertEquals(Status.Code.NOT_FOUND, lost.getStatus().getCode(), "no figures of the wrong filesystem");
        assertTrue(lost.getStatus().getDescription().contains("is not mounted at " + target), lost.getStatus().toString());

        unpublish(id, target);
        unstage(id, staging);
    }

    private void mountTmpfs(Path at) throws Exception {
        new Mounter().mount(Path.of("tmpfs"), at, "tmpfs", MountOptions.of(List.of("size=1m")));
    }

    @Test
    void statsNeverDescribeAnotherFilesystem() throws Exception {
        String id = volume("pvc-stats-foreign", false);
        Path staging = staging(id);
        Path target = target("pod-sf", id);
        VolumeCapability cap = mount("ext4", Mode.SINGLE_NODE_WRITER);
        stage(id, staging, cap);
        publish(id, staging, target, cap, false);

        // The publication's mount replaced by another filesystem: its figures are not the volume's.
        new Mounter().unmount(target);
        mountTmpfs(target);
        assertEquals(Status.Code.NOT_FOUND, code(() -> stats(id, target)));
        assertEquals("tmpfs", mountAt(target).fsType(), "stats have no side effects");
        new Mounter().unmount(target);

        unpublish(id, target);
        // The staging mount gone: the staging path is the host's directory, not the volume.
        new Mounter().unmount(staging);
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> stats(id, staging));
        assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().contains("volume " + id + " is not mounted at " + staging),
                e.getStatus().getDescription());
        assertFalse(mounted(staging), "stats have no side effects");
        unstage(id, staging);
    }

    @Test
    void publishRestoresAVanishedStagingMount() throws Exception {
        String id = volume("pvc-vanished", false);
        Path staging = staging(id);
        Path target = target("pod-v", id);
        VolumeCapability cap = mount("ext4", Mode.SINGLE_NODE_WRITER);
        stage(id, staging, cap);
        Files.writeString(staging.resolve("on-the-volume"), "volume data");
        new Mounter().unmount(staging);
        Files.writeString(staging.resolve("on-the-host"), "host disk");

        publish(id, staging, target, cap, false);
        Path device = devices.getVolume(id).orElseThrow().devicePath();
        assertEquals(device.toString(), mountAt(staging).source(), "the staging mount is restored from the record");
        assertEquals(device.toString(), mountAt(target).source(), "the pod gets the volume, not the host's disk");
        assertEquals("volume data", Files.readString(target.resolve("on-the-volume")));
        assertFalse(Files.exists(target.resolve("on-the-host")));
        unpublish(id, target);
        unstage(id, staging);
        Files.delete(staging.resolve("on-the-host"));
    }

    @Test
    void publishRefusesAStagingPathThatHoldsAnotherFilesystem() throws Exception {
        String id = volume("pvc-covered", false);
        Path staging = staging(id);
        Path target = target("pod-cv", id);
        VolumeCapability cap = mount("ext4", Mode.SINGLE_NODE_WRITER);
        stage(id, staging, cap);
        new Mounter().unmount(staging);
        mountTmpfs(staging);

        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> publish(id, staging, target, cap, false));
        assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode(), e.getStatus().toString());
        assertTrue(e.getStatus().getDescription().contains("tmpfs"), e.getStatus().getDescription());
        assertFalse(mounted(target));
        assertFalse(Files.exists(target));
        assertEquals("staged at " + staging, node.service.usage(id).orElseThrow());
        new Mounter().unmount(staging);
        unstage(id, staging);
    }

    // ------------------------------------------------------------------ crash recovery

    @Test
    void startRollsBackAnInterruptedPublishAndFinishesAnInterruptedRemoval() throws Exception {
        String id = volume("pvc-crash", false);
        Path staging = staging(id);
        Path target = target("pod-c", id);
        VolumeCapability cap = mount("ext4", Mode.SINGLE_NODE_WRITER);
        stage(id, staging, cap);
        publish(id, staging, target, cap, false);
        // As if the driver died right after the bind mount, before recording it as done.
        NodeState st = node.service.state();
        st.put(st.publishedAt(target).orElseThrow().withPhase(Attachment.Phase.PENDING));

        String kubeletId = "csi-crash";
        String deviceId = VolumeIds.ephemeral(kubeletId);
        LoopDevice loop = LoopDevice.create(root, "eph-crash", DEVICE_BYTES);
        loops.add(loop);
        devices.setDevice(deviceId, loop.device, false);
        Path eph = target("pod-c2", kubeletId);
        node.stub.nodePublishVolume(ephemeralRequest(kubeletId, eph, "ext4", null));
        // As if it died in the middle of NodeUnpublishVolume.
        st.put(st.publishedAt(eph).orElseThrow().withPhase(Attachment.Phase.REMOVING));

        restart();
        assertFalse(mounted(target), "the interrupted publish is rolled back");
        assertFalse(Files.exists(target));
        assertFalse(mounted(eph), "the interrupted removal is finished");
        assertTrue(devices.getVolume(deviceId).isEmpty());
        assertTrue(mounted(staging), "the finished staging stays");
        assertEquals("staged at " + staging, node.service.usage(id).orElseThrow());

        // kubelet retries the publish, and it works.
        publish(id, staging, target, cap, false);
        unpublish(id, target);
        unstage(id, staging);
    }

    @Test
    void startRestoresAStagingWhoseMountVanished() throws Exception {
        String id = volume("pvc-reboot", false);
        Path staging = staging(id);
        VolumeCapability cap = mount("xfs", Mode.SINGLE_NODE_WRITER);
        stage(id, staging, cap);
        Files.writeString(staging.resolve("kept"), "x");
        node.close();
        new Mounter().unmount(staging);
        node = new InProcessNode(devices, stateDir, root.resolve("kubelet"));
        assertTrue(mounted(staging), "start() mounts a recorded staging again (as after a reboot)");
        assertEquals("x", Files.readString(staging.resolve("kept")));
        unstage(id, staging);
    }
}
