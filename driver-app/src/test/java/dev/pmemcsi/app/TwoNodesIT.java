package dev.pmemcsi.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.app.client.Channels;
import dev.pmemcsi.csi.v1.CapacityRange;
import dev.pmemcsi.csi.v1.ControllerGrpc;
import dev.pmemcsi.csi.v1.CreateVolumeRequest;
import dev.pmemcsi.csi.v1.DeleteVolumeRequest;
import dev.pmemcsi.csi.v1.GetCapacityRequest;
import dev.pmemcsi.csi.v1.IdentityGrpc;
import dev.pmemcsi.csi.v1.ListVolumesRequest;
import dev.pmemcsi.csi.v1.ProbeRequest;
import dev.pmemcsi.csi.v1.Topology;
import dev.pmemcsi.csi.v1.TopologyRequirement;
import dev.pmemcsi.csi.v1.Volume;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.device.emulated.EmulatedDeviceManager;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two drivers, as on two Kubernetes nodes: each serves only its own PMEM, over its own socket, and
 * refuses volumes whose topology names the other node.
 */
class TwoNodesIT {

    private static final long MIB = 1024 * 1024;
    private static final String KEY = "pmem-csi.dev/node";

    @TempDir
    Path dir;

    private Node a;
    private Node b;

    /** One driver instance with its emulated PMEM and a client to its socket. */
    private static final class Node implements AutoCloseable {
        final Driver driver;
        final Channels channels;
        final ControllerGrpc.ControllerBlockingStub controller;
        final String id;

        Node(Path dir, String id, String regions) throws Exception {
            this.id = id;
            DriverOptions o = new DriverOptions();
            o.nodeId = id;
            o.stateDir = dir.resolve(id + "-state");
            o.emulatedRegions = regions;
            o.kubeletDir = java.nio.file.Files.createDirectories(dir.resolve(id + "-kubelet"));
            PathSafety.requirePrivateDir(o.stateDir, "state dir");
            driver = new Driver(o, new EmulatedDeviceManager(o.emulatedDir(),
                    EmulatedDeviceManager.parseRegionSizes(regions)));
            Path socket = dir.resolve(id + ".sock");
            driver.start(new Endpoint.Unix(socket));
            channels = Channels.open("unix://" + socket);
            assertTrue(IdentityGrpc.newBlockingStub(channels.channel()).probe(ProbeRequest.getDefaultInstance())
                    .getReady().getValue());
            controller = ControllerGrpc.newBlockingStub(channels.channel());
        }

        long available(String forNode) {
            return controller.getCapacity(GetCapacityRequest.newBuilder()
                    .setAccessibleTopology(Topology.newBuilder().putSegments(KEY, forNode)).build())
                    .getAvailableCapacity();
        }

        @Override
        public void close() throws Exception {
            for (var e : controller.listVolumes(ListVolumesRequest.getDefaultInstance()).getEntriesList()) {
                controller.deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(e.getVolume().getVolumeId()).build());
            }
            channels.close();
            driver.close();
        }
    }

    @BeforeEach
    void start() throws Exception {
        a = new Node(dir, "node-a", "512Mi,512Mi");
        b = new Node(dir, "node-b", "256Mi");
    }

    @AfterEach
    void stop() throws Exception {
        a.close();
        b.close();
    }

    private static CreateVolumeRequest.Builder create(String name, String requisiteNode) {
        CreateVolumeRequest.Builder r = CreateVolumeRequest.newBuilder().setName(name)
                .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(64 * MIB))
                .addVolumeCapabilities(VolumeCapability.newBuilder()
                        .setAccessMode(VolumeCapability.AccessMode.newBuilder()
                                .setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER))
                        .setMount(VolumeCapability.MountVolume.newBuilder().setFsType("ext4")));
        if (requisiteNode != null) {
            r.setAccessibilityRequirements(TopologyRequirement.newBuilder()
                    .addRequisite(Topology.newBuilder().putSegments(KEY, requisiteNode)));
        }
        return r;
    }

    @Test
    void eachNodeReportsOnlyItsOwnPmem() {
        long aOwn = a.available("node-a");
        long bOwn = b.available("node-b");
        assertTrue(aOwn > bOwn, "node-a has 1 GiB, node-b 256 MiB: " + aOwn + " vs " + bOwn);
        assertEquals(0, a.available("node-b"), "node-a knows nothing of node-b's PMEM");
        assertEquals(0, b.available("node-a"));
    }

    @Test
    void aVolumeForTheOtherNodeIsRefusedAndNothingIsAllocated() {
        long before = a.available("node-a");
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> a.controller.createVolume(create("pvc-for-b", "node-b").build()));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().contains("node-a"), e.getStatus().getDescription());
        assertEquals(before, a.available("node-a"));
        assertEquals(0, a.controller.listVolumes(ListVolumesRequest.getDefaultInstance()).getEntriesCount());
    }

    @Test
    void aVolumeIsCreatedOnTheNodeItsTopologyNames() {
        long aBefore = a.available("node-a");
        long bBefore = b.available("node-b");
        Volume v = b.controller.createVolume(create("pvc-for-b", "node-b").build()).getVolume();
        assertEquals(List.of(Map.of(KEY, "node-b")),
                v.getAccessibleTopologyList().stream().map(Topology::getSegmentsMap).toList());
        assertTrue(b.available("node-b") < bBefore, "node-b's capacity dropped");
        assertEquals(aBefore, a.available("node-a"), "node-a's capacity did not move");
        b.controller.deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(v.getVolumeId()).build());
        assertEquals(bBefore, b.available("node-b"), "deleting returns every byte");
    }
}
