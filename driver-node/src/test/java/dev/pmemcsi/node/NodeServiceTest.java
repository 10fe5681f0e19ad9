package dev.pmemcsi.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.csi.v1.NodeExpandVolumeRequest;
import dev.pmemcsi.csi.v1.NodeGetCapabilitiesRequest;
import dev.pmemcsi.csi.v1.NodeGetInfoRequest;
import dev.pmemcsi.csi.v1.NodeGetInfoResponse;
import dev.pmemcsi.csi.v1.NodeGetVolumeStatsRequest;
import dev.pmemcsi.csi.v1.NodePublishVolumeRequest;
import dev.pmemcsi.csi.v1.NodeServiceCapability;
import dev.pmemcsi.csi.v1.NodeStageVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnpublishVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnstageVolumeRequest;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.InMemoryDeviceManager;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.driver.DriverConfig;
import dev.pmemcsi.driver.VolumeLocks;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Everything the node service decides before it touches a device: no root, no mounts needed. */
class NodeServiceTest {

    @TempDir
    Path tmp;
    /** Kubelet's staging and pod trees below {@code tmp/kubelet}. */
    private Path plugins;
    private Path pods;

    private InMemoryDeviceManager devices;
    private InProcessNode node;

    static VolumeCapability mountCap(String fs, VolumeCapability.AccessMode.Mode mode, String... flags) {
        return VolumeCapability.newBuilder()
                .setMount(VolumeCapability.MountVolume.newBuilder().setFsType(fs).addAllMountFlags(List.of(flags)))
                .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(mode)).build();
    }

    static final VolumeCapability EXT4 = mountCap("ext4", VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER);

    @BeforeEach
    void setUp() throws Exception {
        devices = new InMemoryDeviceManager(new long[] {4 * CapacityMath.GIB});
        devices.start();
        plugins = Files.createDirectories(tmp.resolve("kubelet/plugins"));
        pods = Files.createDirectories(tmp.resolve("kubelet/pods"));
        node = new InProcessNode(new DriverConfig("pmem-csi.dev", "t", "worker-7", 12), devices, tmp.resolve("state"),
                tmp.resolve("kubelet"));
    }

    @AfterEach
    void tearDown() throws Exception {
        node.close();
    }

    private static Status.Code code(Runnable call) {
        return assertThrows(StatusRuntimeException.class, call::run).getStatus().getCode();
    }

    @Test
    void infoNamesTheNodeAndItsTopology() {
        NodeGetInfoResponse info = node.stub.nodeGetInfo(NodeGetInfoRequest.getDefaultInstance());
        assertEquals("worker-7", info.getNodeId());
        assertEquals(12, info.getMaxVolumesPerNode());
        assertEquals(Map.of("pmem-csi.dev/node", "worker-7"), info.getAccessibleTopology().getSegmentsMap());
    }

    @Test
    void capabilitiesAreAdvertised() {
        Set<NodeServiceCapability.RPC.Type> types = node.stub.nodeGetCapabilities(NodeGetCapabilitiesRequest.getDefaultInstance())
                .getCapabilitiesList().stream().map(c -> c.getRpc().getType()).collect(Collectors.toSet());
        assertEquals(Set.of(NodeServiceCapability.RPC.Type.STAGE_UNSTAGE_VOLUME,
                NodeServiceCapability.RPC.Type.GET_VOLUME_STATS, NodeServiceCapability.RPC.Type.VOLUME_CONDITION,
                NodeServiceCapability.RPC.Type.SINGLE_NODE_MULTI_WRITER), types);
    }

    @Test
    void expandIsUnimplemented() {
        assertEquals(Status.Code.UNIMPLEMENTED, code(() -> node.stub.nodeExpandVolume(
                NodeExpandVolumeRequest.newBuilder().setVolumeId("v").setVolumePath("/x").build())));
    }

    @Test
    void missingOrInvalidArgumentsAreInvalidArgument() {
        String stage = plugins.resolve("stage").toString();
        assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> node.stub.nodeStageVolume(NodeStageVolumeRequest.newBuilder()
                .setStagingTargetPath(stage).setVolumeCapability(EXT4).build())));
        assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> node.stub.nodeStageVolume(NodeStageVolumeRequest.newBuilder()
                .setVolumeId("v").setVolumeCapability(EXT4).build())));
        assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> node.stub.nodeStageVolume(NodeStageVolumeRequest.newBuilder()
                .setVolumeId("v").setStagingTargetPath(stage).build())));
        assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> node.stub.nodeStageVolume(NodeStageVolumeRequest.newBuilder()
                .setVolumeId("v").setStagingTargetPath(stage + "/../x").setVolumeCapability(EXT4).build())));
        assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> node.stub.nodeStageVolume(NodeStageVolumeRequest.newBuilder()
                .setVolumeId("v").setStagingTargetPath(stage)
                .setVolumeCapability(mountCap("ext4", VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER, "remount,exec"))
                .build())));
        assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> node.stub.nodeStageVolume(NodeStageVolumeRequest.newBuilder()
                .setVolumeId("v").setStagingTargetPath(stage)
                .setVolumeCapability(mountCap("ext4", VolumeCapability.AccessMode.Mode.MULTI_NODE_MULTI_WRITER))
                .build())));
        assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> node.stub.nodePublishVolume(NodePublishVolumeRequest.newBuilder()
                .setVolumeId("v").setStagingTargetPath(stage).setVolumeCapability(EXT4).build())));
        assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> node.stub.nodePublishVolume(NodePublishVolumeRequest.newBuilder()
                .setVolumeId("v").setTargetPath(pods.resolve("t").toString()).setVolumeCapability(EXT4).build())));
        assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> node.stub.nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder()
                .setVolumeId("v").build())));
        assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> node.stub.nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder()
                .setStagingTargetPath(stage).build())));
        assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> node.stub.nodeGetVolumeStats(NodeGetVolumeStatsRequest.newBuilder()
                .setVolumeId("v").build())));
        assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> node.stub.nodeGetVolumeStats(NodeGetVolumeStatsRequest.newBuilder()
                .setVolumePath(tmp.toString()).build())));
    }

    @Test
    void statsOfAPathWhereTheVolumeIsNotAreNotFound() throws Exception {
        devices.createVolume(new VolumeRequest("pvc-1", CapacityMath.GIB, 0, VolumeMode.FSDAX, false, Map.of()));
        for (String path : List.of("some/path", "relative", tmp + "/a/../b", tmp.resolve("does-not-exist").toString(),
                tmp.toString(), "/" + "x".repeat(5000))) {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> node.stub.nodeGetVolumeStats(
                    NodeGetVolumeStatsRequest.newBuilder().setVolumeId("pvc-1").setVolumePath(path).build()));
            assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode(), path + ": " + e.getStatus());
            assertTrue(e.getStatus().getDescription().contains("pvc-1"), e.getStatus().getDescription());
        }
    }

    @Test
    void anEphemeralVolumeIsNoPersistentVolume() throws Exception {
        String eph = VolumeIds.ephemeral("csi-0123");
        devices.createVolume(new VolumeRequest(eph, CapacityMath.GIB, 0, VolumeMode.FSDAX, true, Map.of()));
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> node.stub.nodeStageVolume(
                NodeStageVolumeRequest.newBuilder().setVolumeId(eph).setStagingTargetPath(plugins.resolve("s").toString())
                        .setVolumeCapability(EXT4).build()));
        assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode(), e.getStatus().toString());
        assertEquals(Status.Code.NOT_FOUND, code(() -> node.stub.nodePublishVolume(NodePublishVolumeRequest.newBuilder()
                .setVolumeId(eph).setStagingTargetPath(plugins.resolve("s").toString())
                .setTargetPath(pods.resolve("t").toString()).setVolumeCapability(EXT4).build())));
        assertTrue(Files.notExists(plugins.resolve("s")) && Files.notExists(pods.resolve("t")));
        assertTrue(devices.getVolume(eph).isPresent());
    }

    @Test
    void badFlagsAndOverlongPathsAreInvalidArgumentBeforeAnyWork() throws Exception {
        devices.createVolume(new VolumeRequest("pvc-1", CapacityMath.GIB, 0, VolumeMode.FSDAX, false, Map.of()));
        String stage = tmp.resolve("kubelet/plugins/pmem-csi.dev/pvc-1/globalmount").toString();
        List<VolumeCapability> bad = List.of(
                mountCap("ext4", VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER, "ro", "rw"),
                mountCap("ext4", VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER, "nouuid"),
                mountCap("ext4", VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER, "prjquota"),
                mountCap("ext4", VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER, "errors=panic"),
                mountCap("", VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER, "errors=panic"),
                mountCap("xfs", VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER, "data=journal"),
                mountCap("xfs", VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER, "errors=panic"),
                mountCap("xfs", VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER, "noatime", "strictatime"));
        for (VolumeCapability cap : bad) {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> node.stub.nodeStageVolume(
                    NodeStageVolumeRequest.newBuilder().setVolumeId("pvc-1").setStagingTargetPath(stage)
                            .setVolumeCapability(cap).build()));
            assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), cap + ": " + e.getStatus());
            assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> node.stub.nodePublishVolume(
                    NodePublishVolumeRequest.newBuilder().setVolumeId("pvc-1").setStagingTargetPath(stage)
                            .setTargetPath(pods.resolve("t").toString()).setVolumeCapability(cap).build())));
        }
        for (String path : List.of("/" + "p/".repeat(5000), plugins.resolve("n".repeat(256)).toString())) {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> node.stub.nodeStageVolume(
                    NodeStageVolumeRequest.newBuilder().setVolumeId("pvc-1").setStagingTargetPath(path)
                            .setVolumeCapability(EXT4).build()));
            assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), e.getStatus().toString());
            assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> node.stub.nodePublishVolume(
                    NodePublishVolumeRequest.newBuilder().setVolumeId("pvc-1").setStagingTargetPath(stage)
                            .setTargetPath(path).setVolumeCapability(EXT4).build())));
        }
        assertTrue(node.service.usage("pvc-1").isEmpty());
        assertTrue(Files.notExists(plugins.resolve("pmem-csi.dev")) && Files.notExists(pods.resolve("t")),
                "nothing was created");
    }

    @Test
    void unknownVolumeIsNotFound() {
        assertEquals(Status.Code.NOT_FOUND, code(() -> node.stub.nodeStageVolume(NodeStageVolumeRequest.newBuilder()
                .setVolumeId("no-such-volume").setStagingTargetPath(plugins.resolve("s").toString()).setVolumeCapability(EXT4).build())));
        assertEquals(Status.Code.NOT_FOUND, code(() -> node.stub.nodePublishVolume(NodePublishVolumeRequest.newBuilder()
                .setVolumeId("no-such-volume").setStagingTargetPath(plugins.resolve("s").toString())
                .setTargetPath(pods.resolve("t").toString()).setVolumeCapability(EXT4).build())));
        assertEquals(Status.Code.NOT_FOUND, code(() -> node.stub.nodeGetVolumeStats(NodeGetVolumeStatsRequest.newBuilder()
                .setVolumeId("no-such-volume").setVolumePath(plugins.resolve("s").toString()).build())));
    }

    @Test
    void publishBeforeStageIsFailedPrecondition() throws Exception {
        devices.createVolume(new VolumeRequest("pvc-1", CapacityMath.GIB, 0, VolumeMode.FSDAX, false, Map.of()));
        assertEquals(Status.Code.FAILED_PRECONDITION, code(() -> node.stub.nodePublishVolume(NodePublishVolumeRequest.newBuilder()
                .setVolumeId("pvc-1").setStagingTargetPath(plugins.resolve("s").toString())
                .setTargetPath(pods.resolve("t").toString()).setVolumeCapability(EXT4).build())));
        assertTrue(Files.notExists(pods.resolve("t")));
    }

    @Test
    void vanishedDeviceIsFailedPrecondition() throws Exception {
        devices.createVolume(new VolumeRequest("pvc-1", CapacityMath.GIB, 0, VolumeMode.FSDAX, false, Map.of()));
        assertEquals(Status.Code.FAILED_PRECONDITION, code(() -> node.stub.nodeStageVolume(NodeStageVolumeRequest.newBuilder()
                .setVolumeId("pvc-1").setStagingTargetPath(plugins.resolve("s").toString()).setVolumeCapability(EXT4).build())));
        assertTrue(node.service.usage("pvc-1").isEmpty());
    }

    @Test
    void unpublishAndUnstageOfNothingAreOk() {
        Path target = pods.resolve("never-published");
        node.stub.nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder().setVolumeId("gone")
                .setTargetPath(target.toString()).build());
        node.stub.nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId("gone")
                .setStagingTargetPath(plugins.resolve("never-staged").toString()).build());
        // A path the driver has no record of is not the driver's: it is answered OK and left alone.
        Path leftover = pods.resolve("leftover");
        leftover.toFile().mkdir();
        node.stub.nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder().setVolumeId("gone")
                .setTargetPath(leftover.toString()).build());
        assertTrue(Files.isDirectory(leftover));
    }

    @Test
    void secondOperationOnTheSameVolumeIsAborted() {
        try (VolumeLocks.Held held = node.locks.tryAcquire("pvc-1").orElseThrow()) {
            assertEquals(Status.Code.ABORTED, code(() -> node.stub.nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder()
                    .setVolumeId("pvc-1").setTargetPath(pods.resolve("t").toString()).build())));
        }
        node.stub.nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder()
                .setVolumeId("pvc-1").setTargetPath(pods.resolve("t").toString()).build());
    }

    @Test
    void ephemeralVolumesNeedASizeAndMountAccess() {
        Supplier<NodePublishVolumeRequest.Builder> req = () -> NodePublishVolumeRequest.newBuilder()
                .setVolumeId("csi-0123").setTargetPath(pods.resolve("t").toString())
                .putVolumeContext("csi.storage.k8s.io/ephemeral", "true")
                .putVolumeContext("csi.storage.k8s.io/pod.name", "memcached-0");
        assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> node.stub.nodePublishVolume(
                req.get().setVolumeCapability(EXT4).build())));
        assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> node.stub.nodePublishVolume(
                req.get().setVolumeCapability(EXT4).putVolumeContext("size", "lots").build())));
        assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> node.stub.nodePublishVolume(
                req.get().putVolumeContext("size", "1Gi").setVolumeCapability(VolumeCapability.newBuilder()
                        .setBlock(VolumeCapability.BlockVolume.getDefaultInstance())
                        .setAccessMode(EXT4.getAccessMode())).build())));
        assertEquals(Optional.empty(), node.service.usage("csi-0123"));
        assertTrue(devices.listVolumes().isEmpty());
    }

    /** The driver's interceptor keeps volume calls away until start(); describing the node needs no state. */
    @Test
    void nodeGetInfoAnswersBeforeStart() throws Exception {
        NodeService fresh = new NodeService(InProcessNode.CONFIG, devices, new VolumeLocks(), tmp.resolve("other"),
                InProcessNode.paths(tmp.resolve("kubelet")));
        List<NodeGetInfoResponse> answers = new java.util.ArrayList<>();
        io.grpc.stub.StreamObserver<NodeGetInfoResponse> obs = new io.grpc.stub.StreamObserver<>() {
            @Override public void onNext(NodeGetInfoResponse v) {
                answers.add(v);
            }
            @Override public void onError(Throwable t) {
                errors.add(Status.fromThrowable(t).getCode());
            }
            @Override public void onCompleted() {
            }
        };
        fresh.nodeGetInfo(NodeGetInfoRequest.getDefaultInstance(), obs);
        assertEquals(List.of(), errors);
        assertEquals(List.of(InProcessNode.CONFIG.nodeId()), answers.stream().map(NodeGetInfoResponse::getNodeId).toList());
    }

    private final List<Status.Code> errors = new java.util.ArrayList<>();
}
