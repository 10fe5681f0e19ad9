package dev.pmemcsi.controller;

import static dev.pmemcsi.controller.Fixture.GIB;
import static dev.pmemcsi.controller.Fixture.MIB;
import static dev.pmemcsi.controller.Fixture.create;
import static dev.pmemcsi.controller.Fixture.failure;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.csi.v1.CapacityRange;
import dev.pmemcsi.csi.v1.ControllerExpandVolumeRequest;
import dev.pmemcsi.csi.v1.ControllerExpandVolumeResponse;
import dev.pmemcsi.csi.v1.ControllerGetCapabilitiesRequest;
import dev.pmemcsi.csi.v1.ControllerServiceCapability;
import dev.pmemcsi.csi.v1.ControllerServiceCapability.RPC.Type;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.csi.v1.VolumeCapability.AccessMode.Mode;
import dev.pmemcsi.device.DeviceManager.Expansion;
import dev.pmemcsi.device.InMemoryDeviceManager;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.driver.VolumeLocks;
import io.grpc.Status;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ExpandVolumeTest {

    private Fixture f;

    private Fixture start(Expansion expansion, long... regionBytes) throws Exception {
        f = new Fixture(new InMemoryDeviceManager(regionBytes).offering(expansion));
        return f;
    }

    @AfterEach
    void tearDown() {
        if (f != null) {
            f.close();
        }
    }

    private String volume(String name, long bytes) {
        return f.stub.createVolume(create(name, bytes, 0).build()).getVolume().getVolumeId();
    }

    private String blockVolume(String name, long bytes) {
        return f.stub.createVolume(create(name, bytes, 0).clearVolumeCapabilities()
                .addVolumeCapabilities(Fixture.block(Mode.SINGLE_NODE_WRITER)).build()).getVolume().getVolumeId();
    }

    private static ControllerExpandVolumeRequest.Builder grow(String id, long required) {
        return ControllerExpandVolumeRequest.newBuilder().setVolumeId(id)
                .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(required));
    }

    private ControllerExpandVolumeResponse expand(ControllerExpandVolumeRequest.Builder req) {
        return f.stub.controllerExpandVolume(req.build());
    }

    private PmemVolume stored(String id) throws Exception {
        return f.devices.getVolume(id).orElseThrow();
    }

    /** A volume created with 1 GiB has a little more (its allocation unit), but far from 2 GiB. */
    private void assertUngrown(String id) throws Exception {
        long capacity = stored(id).capacityBytes();
        assertTrue(capacity >= GIB && capacity < GIB + 64 * MIB, "nothing grew: capacity " + capacity);
    }

    private Status.Code code(ControllerExpandVolumeRequest.Builder req) {
        return failure(() -> expand(req)).getCode();
    }

    @Test
    void growsToAtLeastTheRequiredSizeAndAsksForTheNodeStep() throws Exception {
        start(Expansion.ONLINE, 8 * GIB);
        String id = volume("pvc-1", GIB);
        ControllerExpandVolumeResponse r = expand(grow(id, 2 * GIB).setVolumeCapability(Fixture.mount()));
        assertTrue(r.getCapacityBytes() >= 2 * GIB, "capacity " + r.getCapacityBytes());
        assertEquals(stored(id).capacityBytes(), r.getCapacityBytes(), "the answer is the volume's capacity");
        assertTrue(r.getNodeExpansionRequired(), "a filesystem grows on the node");
        assertEquals(r, expand(grow(id, 2 * GIB)), "a repeated call answers the same");
    }

    @Test
    void aLimitBoundsTheCapacity() throws Exception {
        start(Expansion.ONLINE, 8 * GIB);
        String id = volume("pvc-1", GIB);
        ControllerExpandVolumeResponse r = expand(ControllerExpandVolumeRequest.newBuilder().setVolumeId(id)
                .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(2 * GIB).setLimitBytes(2 * GIB)));
        assertEquals(2 * GIB, r.getCapacityBytes());
    }

    @Test
    void aSmallerSizeChangesNothing() throws Exception {
        start(Expansion.ONLINE, 8 * GIB);
        String id = volume("pvc-1", GIB);
        PmemVolume before = stored(id);
        ControllerExpandVolumeResponse r = expand(grow(id, 512 * MIB));
        assertEquals(before.capacityBytes(), r.getCapacityBytes());
        assertEquals(before, stored(id), "no shrink, no move");
    }

    @Test
    void aRawBlockVolumeNeedsNoNodeStep() throws Exception {
        start(Expansion.ONLINE, 8 * GIB);
        String block = blockVolume("pvc-block", GIB);
        String fs = volume("pvc-fs", GIB);
        assertFalse(expand(grow(block, 2 * GIB).setVolumeCapability(Fixture.block(Mode.SINGLE_NODE_WRITER)))
                .getNodeExpansionRequired(), "block capability");
        assertFalse(expand(grow(block, 3 * GIB)).getNodeExpansionRequired(),
                "no capability: the volume was created for raw block access");
        assertTrue(expand(grow(fs, 2 * GIB)).getNodeExpansionRequired(),
                "no capability: the volume was created for a filesystem");
    }

    @Test
    void aCapabilityTheVolumeWasNotCreatedForIsInvalid() throws Exception {
        start(Expansion.ONLINE, 8 * GIB);
        String fs = volume("pvc-fs", GIB);
        String block = blockVolume("pvc-block", GIB);
        Status s = failure(() -> expand(grow(fs, 2 * GIB).setVolumeCapability(Fixture.block(Mode.SINGLE_NODE_WRITER))));
        assertEquals(Status.Code.INVALID_ARGUMENT, s.getCode());
        assertTrue(s.getDescription().contains("created for an ext4 filesystem"), s.getDescription());
        assertEquals(Status.Code.INVALID_ARGUMENT, code(grow(block, 2 * GIB).setVolumeCapability(Fixture.mount())));
        assertEquals(Status.Code.INVALID_ARGUMENT, code(grow(fs, 2 * GIB)
                .setVolumeCapability(Fixture.mount("xfs", Mode.SINGLE_NODE_WRITER))));
        assertUngrown(fs);
        assertUngrown(block);
    }

    @Test
    void unknownVolumesAreNotFound() throws Exception {
        start(Expansion.ONLINE, 8 * GIB);
        assertEquals(Status.Code.NOT_FOUND, code(grow(VolumeIds.fromName("never-created"), GIB)));
        assertEquals(Status.Code.NOT_FOUND, code(grow("not/an id of this driver", GIB)));
    }

    @Test
    void incompleteRequestsAreInvalid() throws Exception {
        start(Expansion.ONLINE, 8 * GIB);
        String id = volume("pvc-1", GIB);
        assertEquals(Status.Code.INVALID_ARGUMENT, code(grow("", 2 * GIB)));
        assertEquals(Status.Code.INVALID_ARGUMENT, code(ControllerExpandVolumeRequest.newBuilder().setVolumeId(id)));
        assertEquals(Status.Code.INVALID_ARGUMENT, code(grow(id, 0)));
        assertEquals(Status.Code.INVALID_ARGUMENT, code(ControllerExpandVolumeRequest.newBuilder().setVolumeId(id)
                .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(2 * GIB).setLimitBytes(GIB))));
        assertEquals(Status.Code.INVALID_ARGUMENT, code(grow(id, 2 * GIB)
                .setVolumeCapability(Fixture.mount("btrfs", Mode.SINGLE_NODE_WRITER))));
        assertEquals(Status.Code.INVALID_ARGUMENT, code(grow(id, 2 * GIB)
                .setVolumeCapability(VolumeCapability.getDefaultInstance())));
        assertUngrown(id);
    }

    @Test
    @SuppressWarnings("try") // the lock is held for the block
    void whileAnotherOperationHoldsTheVolumeItIsAborted() throws Exception {
        start(Expansion.ONLINE, 8 * GIB);
        String id = volume("pvc-1", GIB);
        try (VolumeLocks.Held held = f.locks.tryAcquire(id).orElseThrow()) {
            assertEquals(Status.Code.ABORTED, code(grow(id, 2 * GIB)));
        }
        assertUngrown(id);
        assertFalse(f.locks.isHeld(id), "the call released the lock");
        assertTrue(expand(grow(id, 2 * GIB)).getCapacityBytes() >= 2 * GIB);
    }

    @Test
    void aVolumeInUseGrowsInPlace() throws Exception {
        start(Expansion.ONLINE, 8 * GIB);
        String id = volume("pvc-1", GIB);
        f.inUse.put(id, "published at /var/lib/kubelet/pods/1234/volumes/kubernetes.io~csi/pvc-1/mount");
        PmemVolume before = stored(id);
        expand(grow(id, 2 * GIB));
        PmemVolume after = stored(id);
        assertTrue(after.capacityBytes() >= 2 * GIB);
        assertEquals(before.devicePath(), after.devicePath());
        assertEquals(before.region(), after.region());
    }

    @Test
    void aVolumeThatMustMoveIsRefusedWhileInUse() throws Exception {
        start(Expansion.ONLINE, 8 * GIB);
        String id = volume("pvc-1", GIB);
        volume("pvc-2", GIB); // right after pvc-1: it can only grow by moving
        f.inUse.put(id, "staged at /var/lib/kubelet/plugins/kubernetes.io/csi/pmem-csi.dev/x/globalmount");
        PmemVolume before = stored(id);
        Status s = failure(() -> expand(grow(id, 2 * GIB)));
        assertEquals(Status.Code.FAILED_PRECONDITION, s.getCode());
        assertTrue(s.getDescription().contains("staged at /var/lib/kubelet/plugins") && s.getDescription()
                .contains(Fixture.NODE), s.getDescription());
        assertEquals(before, stored(id), "nothing changed");

        f.inUse.remove(id);
        assertTrue(expand(grow(id, 2 * GIB)).getCapacityBytes() >= 2 * GIB, "unused, it moves and grows");
    }

    @Test
    void theBackendsOwnInUseRefusalIsAFailedPreconditionToo() throws Exception {
        start(Expansion.ONLINE, 8 * GIB);
        String id = volume("pvc-1", GIB);
        volume("pvc-2", GIB);
        f.devices.setInUse(id, true);
        assertEquals(Status.Code.FAILED_PRECONDITION, code(grow(id, 2 * GIB)));
    }

    @Test
    void anOfflineBackendRefusesAVolumeInUseWithFailedPreconditionAndGrowsItOnceUnused() throws Exception {
        start(Expansion.OFFLINE, 8 * GIB);
        assertTrue(capabilities().contains(Type.EXPAND_VOLUME));
        String id = volume("pvc-1", GIB);
        // Room after it, but an OFFLINE backend moves every volume that grows.
        f.inUse.put(id, "staged at /var/lib/kubelet/stage");
        Status s = failure(() -> expand(grow(id, 2 * GIB)));
        assertEquals(Status.Code.FAILED_PRECONDITION, s.getCode());
        assertTrue(s.getDescription().contains("grow only while unused"), s.getDescription());
        assertUngrown(id);

        f.inUse.remove(id);
        ControllerExpandVolumeResponse r = expand(grow(id, 2 * GIB));
        assertTrue(r.getCapacityBytes() >= 2 * GIB);
        assertTrue(r.getNodeExpansionRequired(), "the filesystem grows on the node once staged again");
    }

    @Test
    void moreThanARegionHoldsIsOutOfRange() throws Exception {
        start(Expansion.ONLINE, 4 * GIB);
        String id = volume("pvc-1", GIB);
        assertEquals(Status.Code.OUT_OF_RANGE, code(grow(id, 5 * GIB)));
        assertUngrown(id);
    }

    @Test
    void noRoomNowIsResourceExhausted() throws Exception {
        start(Expansion.ONLINE, 4 * GIB);
        String id = volume("pvc-1", GIB);
        volume("pvc-2", GIB);
        volume("pvc-3", GIB);
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, code(grow(id, 3 * GIB / 2)));
        assertUngrown(id);
    }

    @Test
    void withoutExpansionTheCallIsUnimplementedAndNotAdvertised() throws Exception {
        start(Expansion.NONE, 8 * GIB);
        String id = volume("pvc-1", GIB);
        Status s = failure(() -> expand(grow(id, 2 * GIB)));
        assertEquals(Status.Code.UNIMPLEMENTED, s.getCode());
        assertTrue(s.getDescription().contains("EXPAND_VOLUME is not offered"), s.getDescription());
        assertFalse(capabilities().contains(Type.EXPAND_VOLUME));
        assertUngrown(id);
    }

    @Test
    void withExpansionTheCapabilityIsAdvertised() throws Exception {
        start(Expansion.ONLINE, 8 * GIB);
        List<Type> caps = capabilities();
        assertTrue(caps.contains(Type.EXPAND_VOLUME), caps.toString());
        assertTrue(caps.contains(Type.CREATE_DELETE_VOLUME), caps.toString());
    }

    private List<Type> capabilities() {
        return f.stub.controllerGetCapabilities(ControllerGetCapabilitiesRequest.getDefaultInstance())
                .getCapabilitiesList().stream().map(ControllerServiceCapability::getRpc)
                .map(ControllerServiceCapability.RPC::getType).toList();
    }
}
