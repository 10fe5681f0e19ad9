package dev.pmemcsi.controller;

import static dev.pmemcsi.controller.Fixture.GIB;
import static dev.pmemcsi.controller.Fixture.NODE;
import static dev.pmemcsi.controller.Fixture.block;
import static dev.pmemcsi.controller.Fixture.create;
import static dev.pmemcsi.controller.Fixture.failure;
import static dev.pmemcsi.controller.Fixture.mount;
import static dev.pmemcsi.controller.Fixture.node;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.csi.v1.ControllerExpandVolumeRequest;
import dev.pmemcsi.csi.v1.ControllerGetCapabilitiesRequest;
import dev.pmemcsi.csi.v1.ControllerGetVolumeRequest;
import dev.pmemcsi.csi.v1.ControllerGetVolumeResponse;
import dev.pmemcsi.csi.v1.ControllerModifyVolumeRequest;
import dev.pmemcsi.csi.v1.ControllerPublishVolumeRequest;
import dev.pmemcsi.csi.v1.ControllerServiceCapability.RPC.Type;
import dev.pmemcsi.csi.v1.ControllerServiceCapability;
import dev.pmemcsi.csi.v1.ControllerUnpublishVolumeRequest;
import dev.pmemcsi.csi.v1.CreateSnapshotRequest;
import dev.pmemcsi.csi.v1.DeleteSnapshotRequest;
import dev.pmemcsi.csi.v1.GetSnapshotRequest;
import dev.pmemcsi.csi.v1.ListSnapshotsRequest;
import dev.pmemcsi.csi.v1.ValidateVolumeCapabilitiesRequest;
import dev.pmemcsi.csi.v1.ValidateVolumeCapabilitiesResponse;
import dev.pmemcsi.csi.v1.Volume;
import dev.pmemcsi.csi.v1.VolumeCapability.AccessMode.Mode;
import dev.pmemcsi.device.VolumeIds;
import io.grpc.Status;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** ValidateVolumeCapabilities, ControllerGetVolume, ControllerGetCapabilities and what is not offered. */
class VolumeInfoTest {

    private Fixture f;
    private Volume volume;

    @BeforeEach
    void setUp() throws Exception {
        f = new Fixture(4 * GIB);
        volume = f.stub.createVolume(create("pvc-1").build()).getVolume();
    }

    @AfterEach
    void tearDown() throws Exception {
        f.close();
    }

    private ValidateVolumeCapabilitiesRequest.Builder validate(String id) {
        return ValidateVolumeCapabilitiesRequest.newBuilder().setVolumeId(id).addVolumeCapabilities(mount());
    }

    private ValidateVolumeCapabilitiesResponse call(ValidateVolumeCapabilitiesRequest.Builder req) {
        return f.stub.validateVolumeCapabilities(req.build());
    }

    // ---- ValidateVolumeCapabilities

    @Test
    void supportedCapabilitiesAreConfirmedAndEchoed() {
        ValidateVolumeCapabilitiesRequest.Builder req = validate(volume.getVolumeId())
                .addVolumeCapabilities(mount("ext4", Mode.SINGLE_NODE_SINGLE_WRITER))
                .putAllVolumeContext(volume.getVolumeContextMap())
                .putParameters("usage", "AppDirect")
                .putParameters("csi.storage.k8s.io/pvc/name", "data");
        ValidateVolumeCapabilitiesResponse r = call(req);
        assertTrue(r.hasConfirmed(), r.getMessage());
        assertEquals(req.getVolumeCapabilitiesList(), r.getConfirmed().getVolumeCapabilitiesList());
        assertEquals(req.getVolumeContextMap(), r.getConfirmed().getVolumeContextMap());
        assertEquals(req.getParametersMap(), r.getConfirmed().getParametersMap());
    }

    @Test
    void aCapabilityTheVolumeWasNotCreatedForIsNotConfirmed() {
        ValidateVolumeCapabilitiesResponse xfs = call(ValidateVolumeCapabilitiesRequest.newBuilder()
                .setVolumeId(volume.getVolumeId()).addVolumeCapabilities(mount("xfs", Mode.SINGLE_NODE_WRITER)));
        assertFalse(xfs.hasConfirmed());
        assertTrue(xfs.getMessage().contains("ext4"), xfs.getMessage());
        ValidateVolumeCapabilitiesResponse raw = call(validate(volume.getVolumeId())
                .addVolumeCapabilities(block(Mode.SINGLE_NODE_SINGLE_WRITER)));
        assertFalse(raw.hasConfirmed());
        assertTrue(raw.getMessage().contains("block"), raw.getMessage());
    }

    @Test
    void aVolumeWhoseBackendKeptNoAttributesHasTheSameContext() throws Exception {
        // Direct mode keeps only mode, size and erase flag across a restart.
        dev.pmemcsi.device.PmemVolume bare = f.devices.createVolume(new dev.pmemcsi.device.VolumeRequest(
                "restarted-1", GIB, 0, dev.pmemcsi.device.VolumeMode.FSDAX, true, java.util.Map.of()));
        ValidateVolumeCapabilitiesResponse r = call(validate(bare.id())
                .putAllVolumeContext(volume.getVolumeContextMap()));
        assertTrue(r.hasConfirmed(), r.getMessage());
    }

    @Test
    void unsupportedCapabilityIsNotConfirmed() {
        ValidateVolumeCapabilitiesResponse r = call(validate(volume.getVolumeId())
                .addVolumeCapabilities(mount("", Mode.MULTI_NODE_READER_ONLY)));
        assertFalse(r.hasConfirmed());
        assertTrue(r.getMessage().contains("MULTI_NODE_READER_ONLY"), r.getMessage());
        ValidateVolumeCapabilitiesResponse fs = call(ValidateVolumeCapabilitiesRequest.newBuilder()
                .setVolumeId(volume.getVolumeId()).addVolumeCapabilities(mount("vfat", Mode.SINGLE_NODE_WRITER)));
        assertFalse(fs.hasConfirmed());
    }

    @Test
    void mismatchingContextOrParametersAreNotConfirmed() {
        ValidateVolumeCapabilitiesResponse ctx = call(validate(volume.getVolumeId())
                .putVolumeContext("usage", "FileIO").putVolumeContext("eraseafter", "true"));
        assertFalse(ctx.hasConfirmed());
        assertTrue(ctx.getMessage().contains("volume_context"), ctx.getMessage());

        ValidateVolumeCapabilitiesResponse usage = call(validate(volume.getVolumeId()).putParameters("usage", "FileIO"));
        assertFalse(usage.hasConfirmed());
        ValidateVolumeCapabilitiesResponse erase = call(validate(volume.getVolumeId()).putParameters("eraseafter", "false"));
        assertFalse(erase.hasConfirmed());
        ValidateVolumeCapabilitiesResponse unknown = call(validate(volume.getVolumeId()).putParameters("speed", "fast"));
        assertFalse(unknown.hasConfirmed());
        assertTrue(unknown.getMessage().contains("speed"), unknown.getMessage());
        ValidateVolumeCapabilitiesResponse mutable = call(validate(volume.getVolumeId()).addMutableParameters(
                ValidateVolumeCapabilitiesRequest.MutableParametersEntry.newBuilder().setKey("iops").setValue("1")));
        assertFalse(mutable.hasConfirmed());
    }

    @Test
    void unknownVolumeIsNotFound() {
        assertEquals(Status.Code.NOT_FOUND, failure(() -> call(validate(VolumeIds.fromName("other")))).getCode());
        assertEquals(Status.Code.NOT_FOUND, failure(() -> call(validate("Not An ID"))).getCode());
    }

    @Test
    void missingIdOrCapabilitiesAreInvalid() {
        assertEquals(Status.Code.INVALID_ARGUMENT, failure(() -> call(validate(""))).getCode());
        assertEquals(Status.Code.INVALID_ARGUMENT, failure(() -> call(
                ValidateVolumeCapabilitiesRequest.newBuilder().setVolumeId(volume.getVolumeId()))).getCode());
    }

    // ---- ControllerGetVolume

    private ControllerGetVolumeResponse get(String id) {
        return f.stub.controllerGetVolume(ControllerGetVolumeRequest.newBuilder().setVolumeId(id).build());
    }

    @Test
    void healthyVolumeHasANormalCondition() {
        ControllerGetVolumeResponse r = get(volume.getVolumeId());
        assertEquals(volume, r.getVolume());
        assertEquals(node(NODE), r.getVolume().getAccessibleTopology(0));
        assertTrue(r.getStatus().hasVolumeCondition());
        assertFalse(r.getStatus().getVolumeCondition().getAbnormal());
    }

    @Test
    void badBlocksMakeTheConditionAbnormal() {
        f.devices.setBadBlocks(volume.getVolumeId(), 8);
        ControllerGetVolumeResponse r = get(volume.getVolumeId());
        assertTrue(r.getStatus().getVolumeCondition().getAbnormal());
        assertTrue(r.getStatus().getVolumeCondition().getMessage().contains("bad blocks"),
                r.getStatus().getVolumeCondition().getMessage());
    }

    @Test
    void vanishedDeviceMakesTheConditionAbnormal() {
        f.devices.setGone(volume.getVolumeId());
        ControllerGetVolumeResponse r = get(volume.getVolumeId());
        assertTrue(r.getStatus().getVolumeCondition().getAbnormal());
        assertTrue(r.getStatus().getVolumeCondition().getMessage().contains("disappeared"),
                r.getStatus().getVolumeCondition().getMessage());
    }

    @Test
    void getOfUnknownVolumeIsNotFoundAndEmptyIdInvalid() {
        assertEquals(Status.Code.NOT_FOUND, failure(() -> get(VolumeIds.fromName("other"))).getCode());
        assertEquals(Status.Code.NOT_FOUND, failure(() -> get("Not An ID")).getCode());
        assertEquals(Status.Code.INVALID_ARGUMENT, failure(() -> get("")).getCode());
    }

    @Test
    @SuppressWarnings("try") // the lock is held for the block
    void readsDoNotWaitForTheVolumeLock() {
        try (var held = f.locks.tryAcquire(volume.getVolumeId()).orElseThrow()) {
            get(volume.getVolumeId());
            assertTrue(call(validate(volume.getVolumeId())).hasConfirmed());
        }
    }

    // ---- capabilities and what is not offered

    @Test
    void advertisesExactlyWhatIsImplemented() {
        Set<Type> types = f.stub.controllerGetCapabilities(ControllerGetCapabilitiesRequest.getDefaultInstance())
                .getCapabilitiesList().stream().map(c -> c.getRpc().getType()).collect(Collectors.toSet());
        assertEquals(Set.of(Type.CREATE_DELETE_VOLUME, Type.LIST_VOLUMES, Type.GET_CAPACITY, Type.GET_VOLUME,
                Type.VOLUME_CONDITION, Type.SINGLE_NODE_MULTI_WRITER), types);
        assertTrue(f.stub.controllerGetCapabilities(ControllerGetCapabilitiesRequest.getDefaultInstance())
                .getCapabilitiesList().stream().allMatch(c -> c.getTypeCase() == ControllerServiceCapability.TypeCase.RPC));
    }

    @Test
    void everythingElseIsUnimplementedWithAReason() {
        String id = volume.getVolumeId();
        List<Executable> calls = List.of(
                () -> f.stub.controllerPublishVolume(ControllerPublishVolumeRequest.newBuilder().setVolumeId(id).setNodeId(NODE).build()),
                () -> f.stub.controllerUnpublishVolume(ControllerUnpublishVolumeRequest.newBuilder().setVolumeId(id).build()),
                () -> f.stub.createSnapshot(CreateSnapshotRequest.newBuilder().setSourceVolumeId(id).setName("s").build()),
                () -> f.stub.deleteSnapshot(DeleteSnapshotRequest.newBuilder().setSnapshotId("s").build()),
                () -> f.stub.listSnapshots(ListSnapshotsRequest.getDefaultInstance()),
                () -> f.stub.getSnapshot(GetSnapshotRequest.newBuilder().setSnapshotId("s").build()),
                () -> f.stub.controllerExpandVolume(ControllerExpandVolumeRequest.newBuilder().setVolumeId(id).build()),
                () -> f.stub.controllerModifyVolume(ControllerModifyVolumeRequest.newBuilder().setVolumeId(id)
                        .putAllMutableParameters(Map.of("a", "b")).build()));
        for (Executable call : calls) {
            Status s = failure(call);
            assertEquals(Status.Code.UNIMPLEMENTED, s.getCode());
            assertTrue(s.getDescription().contains("not offered"), s.getDescription());
        }
    }
}
