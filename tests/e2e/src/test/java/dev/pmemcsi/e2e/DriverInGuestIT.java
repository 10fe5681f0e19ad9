package dev.pmemcsi.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.app.client.Channels;
import dev.pmemcsi.csi.v1.CapacityRange;
import dev.pmemcsi.csi.v1.ControllerGrpc;
import dev.pmemcsi.csi.v1.CreateVolumeRequest;
import dev.pmemcsi.csi.v1.DeleteVolumeRequest;
import dev.pmemcsi.csi.v1.GetCapacityRequest;
import dev.pmemcsi.csi.v1.GetCapacityResponse;
import dev.pmemcsi.csi.v1.GetPluginInfoRequest;
import dev.pmemcsi.csi.v1.IdentityGrpc;
import dev.pmemcsi.csi.v1.ListVolumesRequest;
import dev.pmemcsi.csi.v1.NodeGetInfoRequest;
import dev.pmemcsi.csi.v1.NodeGetVolumeStatsRequest;
import dev.pmemcsi.csi.v1.NodeGrpc;
import dev.pmemcsi.csi.v1.NodePublishVolumeRequest;
import dev.pmemcsi.csi.v1.NodeStageVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnpublishVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnstageVolumeRequest;
import dev.pmemcsi.csi.v1.ProbeRequest;
import dev.pmemcsi.csi.v1.Volume;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.csi.v1.VolumeUsage;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The driver running in the QEMU guest on real NVDIMM namespaces (ndctl backend), driven over TCP
 * from the host exactly as kubelet and external-provisioner would drive it. Paths are the guest's.
 */
class DriverInGuestIT {

    private static final long MIB = 1024 * 1024;
    /**
     * The guest driver's --kubelet-dir (E2E_GUEST_KUBELET_DIR in e2e/qemu/lib/config.sh, whose
     * plugins/ and pods/ the guest creates before it starts the driver).
     */
    private static final String KUBELET = System.getProperty("pmemcsi.e2e.kubeletDir", "/tmp/e2e-kubelet");
    private static final String PLUGINS = KUBELET + "/plugins";
    private static final String PODS = KUBELET + "/pods";
    private static Channels channels;
    private static ControllerGrpc.ControllerBlockingStub controller;
    private static NodeGrpc.NodeBlockingStub node;
    private static long availableAtStart;

    @BeforeAll
    static void connect() throws Exception {
        String endpoint = System.getProperty("pmemcsi.e2e.endpoint");
        channels = Channels.open("tcp://" + endpoint);
        IdentityGrpc.IdentityBlockingStub identity = IdentityGrpc.newBlockingStub(channels.channel());
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        while (!identity.withDeadlineAfter(30, TimeUnit.SECONDS).probe(ProbeRequest.getDefaultInstance())
                .getReady().getValue()) {
            assertTrue(System.nanoTime() < deadline, "driver in the guest never became ready");
            Thread.sleep(500);
        }
        controller = ControllerGrpc.newBlockingStub(channels.channel()).withDeadlineAfter(5, TimeUnit.MINUTES);
        node = NodeGrpc.newBlockingStub(channels.channel()).withDeadlineAfter(5, TimeUnit.MINUTES);
        availableAtStart = capacity().getAvailableCapacity();
    }

    @AfterAll
    static void allCapacityReturned() {
        try {
            assertEquals(0, controller.listVolumes(ListVolumesRequest.getDefaultInstance()).getEntriesCount(),
                    "no volume left behind");
            assertEquals(availableAtStart, capacity().getAvailableCapacity(), "every byte returned");
        } finally {
            channels.close();
        }
    }

    private static GetCapacityResponse capacity() {
        return controller.getCapacity(GetCapacityRequest.getDefaultInstance());
    }

    private static VolumeCapability mount(String fs) {
        return VolumeCapability.newBuilder()
                .setAccessMode(VolumeCapability.AccessMode.newBuilder()
                        .setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER))
                .setMount(VolumeCapability.MountVolume.newBuilder().setFsType(fs))
                .build();
    }

    private static VolumeCapability block() {
        return VolumeCapability.newBuilder()
                .setAccessMode(VolumeCapability.AccessMode.newBuilder()
                        .setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER))
                .setBlock(VolumeCapability.BlockVolume.getDefaultInstance())
                .build();
    }

    @Test
    void identityAndTopology() {
        assertEquals("pmem-csi.dev", IdentityGrpc.newBlockingStub(channels.channel())
                .getPluginInfo(GetPluginInfoRequest.getDefaultInstance()).getName());
        assertEquals("e2e-guest", node.nodeGetInfo(NodeGetInfoRequest.getDefaultInstance())
                .getAccessibleTopology().getSegmentsMap().get("pmem-csi.dev/node"));
        GetCapacityResponse cap = capacity();
        assertTrue(cap.getAvailableCapacity() > 7000 * MIB, "two 4 GiB regions: " + cap);
        assertTrue(cap.getMaximumVolumeSize().getValue() > 3900 * MIB, "a whole region: " + cap);
    }

    @ParameterizedTest
    @ValueSource(strings = {"ext4", "xfs"})
    void persistentVolumeLifecycleOnRealNamespaces(String fs) {
        String name = "e2e-" + fs + "-" + System.nanoTime();
        Volume v = controller.createVolume(CreateVolumeRequest.newBuilder().setName(name)
                .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(512 * MIB))
                .addVolumeCapabilities(mount(fs)).build()).getVolume();
        assertTrue(v.getCapacityBytes() >= 512 * MIB, "at least the requested bytes are usable");
        String staging = PLUGINS + "/e2e-" + fs + "-staging";
        String target = PODS + "/e2e-" + fs + "-target";
        node.nodeStageVolume(NodeStageVolumeRequest.newBuilder().setVolumeId(v.getVolumeId())
                .setStagingTargetPath(staging).setVolumeCapability(mount(fs)).build());
        node.nodePublishVolume(NodePublishVolumeRequest.newBuilder().setVolumeId(v.getVolumeId())
                .setStagingTargetPath(staging).setTargetPath(target).setVolumeCapability(mount(fs)).build());
        long total = node.nodeGetVolumeStats(NodeGetVolumeStatsRequest.newBuilder().setVolumeId(v.getVolumeId())
                        .setVolumePath(target).build()).getUsageList().stream()
                .filter(u -> u.getUnit() == VolumeUsage.Unit.BYTES).findFirst().orElseThrow().getTotal();
        assertTrue(total > 400 * MIB, "filesystem size " + total);
        StatusRuntimeException inUse = assertThrows(StatusRuntimeException.class,
                () -> controller.deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(v.getVolumeId()).build()));
        assertEquals(Status.Code.FAILED_PRECONDITION, inUse.getStatus().getCode());
        node.nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder().setVolumeId(v.getVolumeId())
                .setTargetPath(target).build());
        node.nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(v.getVolumeId())
                .setStagingTargetPath(staging).build());
        controller.deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(v.getVolumeId()).build());
        controller.deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(v.getVolumeId()).build());
    }

    @Test
    void rawBlockVolume() {
        Volume v = controller.createVolume(CreateVolumeRequest.newBuilder().setName("e2e-block-" + System.nanoTime())
                .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(64 * MIB))
                .addVolumeCapabilities(block()).build()).getVolume();
        String staging = PLUGINS + "/e2e-block-staging";
        String target = PODS + "/e2e-block-device";
        node.nodeStageVolume(NodeStageVolumeRequest.newBuilder().setVolumeId(v.getVolumeId())
                .setStagingTargetPath(staging).setVolumeCapability(block()).build());
        node.nodePublishVolume(NodePublishVolumeRequest.newBuilder().setVolumeId(v.getVolumeId())
                .setStagingTargetPath(staging).setTargetPath(target).setVolumeCapability(block()).build());
        long bytes = node.nodeGetVolumeStats(NodeGetVolumeStatsRequest.newBuilder().setVolumeId(v.getVolumeId())
                .setVolumePath(target).build()).getUsage(0).getTotal();
        assertEquals(v.getCapacityBytes(), bytes, "the block device offers exactly the reported capacity");
        node.nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder().setVolumeId(v.getVolumeId())
                .setTargetPath(target).build());
        node.nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(v.getVolumeId())
                .setStagingTargetPath(staging).build());
        controller.deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(v.getVolumeId()).build());
    }

    @Test
    void sectorVolumeForFileIo() {
        Volume v = controller.createVolume(CreateVolumeRequest.newBuilder().setName("e2e-fileio-" + System.nanoTime())
                .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(256 * MIB))
                .putParameters("usage", "FileIO").putParameters("eraseafter", "false")
                .addVolumeCapabilities(mount("ext4")).build()).getVolume();
        assertTrue(v.getCapacityBytes() >= 256 * MIB);
        assertEquals("FileIO", v.getVolumeContextMap().get("usage"));
        controller.deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(v.getVolumeId()).build());
    }

    @Test
    void ephemeralInlineVolume() {
        String target = PODS + "/e2e-inline-target";
        String volumeId = "csi-e2e-inline-" + System.nanoTime();
        long before = capacity().getAvailableCapacity();
        node.nodePublishVolume(NodePublishVolumeRequest.newBuilder().setVolumeId(volumeId)
                .setTargetPath(target).setVolumeCapability(mount("ext4"))
                .putVolumeContext("csi.storage.k8s.io/ephemeral", "true").putVolumeContext("size", "128Mi").build());
        try {
            assertTrue(capacity().getAvailableCapacity() <= before - 128 * MIB,
                    "the inline volume is a real namespace that takes PMEM");
            // Inline volumes belong to the node service and its pod, not to the controller.
            assertTrue(controller.listVolumes(ListVolumesRequest.getDefaultInstance()).getEntriesList().isEmpty(),
                    "ListVolumes does not show inline volumes");
        } finally {
            node.nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder().setVolumeId(volumeId)
                    .setTargetPath(target).build());
        }
        assertEquals(before, capacity().getAvailableCapacity(), "the unpublish deleted the inline volume");
    }

    @Test
    void tooLargeIsResourceExhausted() {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> controller.createVolume(
                CreateVolumeRequest.newBuilder().setName("e2e-huge")
                        .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(64L * 1024 * MIB))
                        .addVolumeCapabilities(mount("ext4")).build()));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode());
    }
}
