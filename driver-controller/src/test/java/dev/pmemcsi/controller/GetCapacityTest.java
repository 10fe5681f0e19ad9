package dev.pmemcsi.controller;

import static dev.pmemcsi.controller.Fixture.GIB;
import static dev.pmemcsi.controller.Fixture.NODE;
import static dev.pmemcsi.controller.Fixture.block;
import static dev.pmemcsi.controller.Fixture.create;
import static dev.pmemcsi.controller.Fixture.failure;
import static dev.pmemcsi.controller.Fixture.mount;
import static dev.pmemcsi.controller.Fixture.node;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.csi.v1.GetCapacityRequest;
import dev.pmemcsi.csi.v1.GetCapacityResponse;
import dev.pmemcsi.csi.v1.Topology;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.csi.v1.VolumeCapability.AccessMode.Mode;
import dev.pmemcsi.device.Capacity;
import dev.pmemcsi.device.VolumeMode;
import io.grpc.Status;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class GetCapacityTest {

    private Fixture f;

    @BeforeEach
    void setUp() throws Exception {
        f = new Fixture(8 * GIB, 4 * GIB);
    }

    @AfterEach
    void tearDown() throws Exception {
        f.close();
    }

    private GetCapacityResponse capacity(GetCapacityRequest.Builder req) {
        return f.stub.getCapacity(req.build());
    }

    private void assertMatches(Capacity.Requestable expected, GetCapacityResponse r) {
        assertEquals(expected.availableBytes(), r.getAvailableCapacity());
        assertEquals(expected.maxVolumeBytes(), r.getMaximumVolumeSize().getValue());
        assertEquals(expected.minVolumeBytes(), r.getMinimumVolumeSize().getValue());
        assertTrue(r.hasMaximumVolumeSize() && r.hasMinimumVolumeSize());
    }

    @Test
    void withoutTopologyReportsThisNodesUsableCapacity() throws Exception {
        GetCapacityResponse r = capacity(GetCapacityRequest.newBuilder());
        assertMatches(f.devices.capacity().requestable(VolumeMode.FSDAX), r);
        assertTrue(r.getAvailableCapacity() > 11 * GIB && r.getAvailableCapacity() < 12 * GIB, "" + r.getAvailableCapacity());
        assertTrue(r.getMaximumVolumeSize().getValue() > 7 * GIB && r.getMaximumVolumeSize().getValue() < 8 * GIB);
    }

    @Test
    void forThisNodesSegmentReportsItsCapacity() throws Exception {
        GetCapacityResponse r = capacity(GetCapacityRequest.newBuilder().setAccessibleTopology(node(NODE))
                .addVolumeCapabilities(mount()).addVolumeCapabilities(block(Mode.SINGLE_NODE_MULTI_WRITER)));
        assertMatches(f.devices.capacity().requestable(VolumeMode.FSDAX), r);
    }

    @Test
    void forAnotherNodesSegmentReportsZero() {
        GetCapacityResponse r = capacity(GetCapacityRequest.newBuilder().setAccessibleTopology(node("node-b")));
        assertEquals(0, r.getAvailableCapacity());
        assertEquals(0, r.getMaximumVolumeSize().getValue());
        GetCapacityResponse foreign = capacity(GetCapacityRequest.newBuilder().setAccessibleTopology(
                Topology.newBuilder().putSegments("topology.kubernetes.io/zone", "z1")));
        assertEquals(0, foreign.getAvailableCapacity());
    }

    @Test
    void usageFileIoReportsSectorCapacity() throws Exception {
        GetCapacityResponse fileIo = capacity(GetCapacityRequest.newBuilder().putParameters("usage", "FileIO"));
        assertMatches(f.devices.capacity().requestable(VolumeMode.SECTOR), fileIo);
        assertNotEquals(capacity(GetCapacityRequest.newBuilder()).getAvailableCapacity(), fileIo.getAvailableCapacity());
    }

    @Test
    void kubernetesParametersAreIgnored() throws Exception {
        GetCapacityResponse r = capacity(GetCapacityRequest.newBuilder()
                .putParameters("eraseafter", "false").putParameters("csi.storage.k8s.io/fstype", "xfs"));
        assertMatches(f.devices.capacity().requestable(VolumeMode.FSDAX), r);
    }

    @Test
    void invalidParametersAreInvalid() {
        Status s = failure(() -> capacity(GetCapacityRequest.newBuilder().putParameters("color", "blue")));
        assertEquals(Status.Code.INVALID_ARGUMENT, s.getCode());
        assertTrue(s.getDescription().contains("color"));
        assertEquals(Status.Code.INVALID_ARGUMENT,
                failure(() -> capacity(GetCapacityRequest.newBuilder().putParameters("usage", "x"))).getCode());
    }

    @Test
    void capabilitiesNoVolumeHereCanHaveGetZero() {
        GetCapacityResponse multi = capacity(GetCapacityRequest.newBuilder()
                .addVolumeCapabilities(mount()).addVolumeCapabilities(mount("", Mode.MULTI_NODE_MULTI_WRITER)));
        assertEquals(0, multi.getAvailableCapacity());
        GetCapacityResponse btrfs = capacity(GetCapacityRequest.newBuilder()
                .addVolumeCapabilities(mount("btrfs", Mode.SINGLE_NODE_WRITER)));
        assertEquals(0, btrfs.getAvailableCapacity());
    }

    @Test
    void malformedCapabilityIsInvalid() {
        VolumeCapability noMode = VolumeCapability.newBuilder()
                .setBlock(VolumeCapability.BlockVolume.getDefaultInstance()).build();
        assertEquals(Status.Code.INVALID_ARGUMENT,
                failure(() -> capacity(GetCapacityRequest.newBuilder().addVolumeCapabilities(noMode))).getCode());
    }

    @Test
    void followsAllocations() throws Exception {
        long before = capacity(GetCapacityRequest.newBuilder()).getAvailableCapacity();
        f.stub.createVolume(create("pvc-1", 6 * GIB, 0).build());
        GetCapacityResponse after = capacity(GetCapacityRequest.newBuilder());
        assertMatches(f.devices.capacity().requestable(VolumeMode.FSDAX), after);
        assertTrue(after.getAvailableCapacity() < before - 6 * GIB);
        // The 8 GiB region has under 2 GiB left, so the 4 GiB region now offers the largest volume.
        assertTrue(after.getMaximumVolumeSize().getValue() < 4 * GIB
                && after.getMaximumVolumeSize().getValue() > 3 * GIB);
    }

    @Test
    void maximumVolumeSizeCanBeCreatedAndOneByteMoreCannot() {
        long max = capacity(GetCapacityRequest.newBuilder()).getMaximumVolumeSize().getValue();
        assertEquals(Status.Code.RESOURCE_EXHAUSTED,
                failure(() -> f.stub.createVolume(create("too-big", max + 1, 0).build())).getCode());
        f.stub.createVolume(create("largest", max, 0).build());
    }

    @Test
    void minimumVolumeSizeWorksAsALimit() {
        long min = capacity(GetCapacityRequest.newBuilder()).getMinimumVolumeSize().getValue();
        assertTrue(min > 0);
        long got = f.stub.createVolume(create("smallest", 0, min).build()).getVolume().getCapacityBytes();
        assertEquals(min, got);
        assertEquals(Status.Code.OUT_OF_RANGE,
                failure(() -> f.stub.createVolume(create("smaller", 0, min - 1).build())).getCode());
    }

    @Test
    void noPmemMeansZero() throws Exception {
        try (Fixture empty = new Fixture()) {
            GetCapacityResponse r = empty.stub.getCapacity(GetCapacityRequest.getDefaultInstance());
            assertEquals(0, r.getAvailableCapacity());
            assertEquals(0, r.getMaximumVolumeSize().getValue());
        }
    }
}
