package dev.pmemcsi.controller;

import static dev.pmemcsi.controller.Fixture.GIB;
import static dev.pmemcsi.controller.Fixture.create;
import static dev.pmemcsi.controller.Fixture.failure;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.csi.v1.DeleteVolumeRequest;
import dev.pmemcsi.device.DeviceBusyException;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.InMemoryDeviceManager;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.driver.VolumeLocks;
import io.grpc.Status;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class DeleteVolumeTest {

    private Fixture f;

    @BeforeEach
    void setUp() throws Exception {
        f = new Fixture(4 * GIB);
    }

    @AfterEach
    void tearDown() throws Exception {
        f.close();
    }

    private String createVolume(String name, String eraseafter) {
        var req = create(name);
        if (eraseafter != null) {
            req.putParameters("eraseafter", eraseafter);
        }
        return f.stub.createVolume(req.build()).getVolume().getVolumeId();
    }

    private void delete(String id) {
        f.stub.deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(id).build());
    }

    @Test
    void deletesAndErasesByDefault() throws Exception {
        String id = createVolume("pvc-1", null);
        delete(id);
        assertTrue(f.devices.getVolume(id).isEmpty());
        assertEquals(List.of(id), f.devices.erasedVolumes());
    }

    @Test
    void erasesAccordingToTheVolumesOwnRecord() throws Exception {
        String kept = createVolume("pvc-1", "false");
        String erased = createVolume("pvc-2", "true");
        delete(kept);
        delete(erased);
        assertTrue(f.devices.getVolume(kept).isEmpty());
        assertEquals(List.of(erased), f.devices.erasedVolumes());
    }

    @Test
    void isIdempotent() throws Exception {
        long available = f.devices.capacity().availableBytes();
        String id = createVolume("pvc-1", null);
        assertTrue(f.devices.capacity().availableBytes() < available);
        delete(id);
        delete(id);
        assertTrue(f.devices.getVolume(id).isEmpty());
        assertEquals(List.of(id), f.devices.erasedVolumes(), "the second delete erases nothing");
        assertEquals(available, f.devices.capacity().availableBytes(), "the space is free again, once");
    }

    /**
     * A backend whose delete gave up half way (its device was still held open) no longer shows the
     * volume, but holds its space until a delete finishes. A retried DeleteVolume must reach the
     * backend and finish it, not answer OK because the volume is no longer visible.
     */
    @Test
    void aRetriedDeleteFinishesADeleteThatGaveUp() throws Exception {
        InMemoryDeviceManager inner = new InMemoryDeviceManager(new long[] {4 * GIB});
        Set<String> pending = ConcurrentHashMap.newKeySet();
        AtomicBoolean gaveUp = new AtomicBoolean();
        DeviceManager served = (DeviceManager) Proxy.newProxyInstance(DeviceManager.class.getClassLoader(),
                new Class<?>[] {DeviceManager.class}, (proxy, method, args) -> {
                    String name = method.getName();
                    if (name.equals("deleteVolume") && gaveUp.compareAndSet(false, true)) {
                        pending.add((String) args[0]);
                        throw new DeviceBusyException("volume " + args[0] + ": /dev/loop9 is still open by another process");
                    }
                    if (name.equals("getVolume") && pending.contains((String) args[0])) {
                        return Optional.empty();
                    }
                    if (name.equals("deleteVolume")) {
                        pending.remove((String) args[0]);
                    }
                    try {
                        return method.invoke(inner, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        f.close();
        f = new Fixture(inner, served);
        long available = inner.capacity().availableBytes();
        String id = createVolume("pvc-held", null);
        assertEquals(Status.Code.ABORTED, failure(() -> delete(id)).getCode());
        assertTrue(inner.getVolume(id).isPresent(), "the backend still holds the volume");
        delete(id);
        assertTrue(inner.getVolume(id).isEmpty(), "the retried delete reached the backend");
        assertEquals(available, inner.capacity().availableBytes(), "the space is free again");
        assertEquals(id, createVolume("pvc-held", null), "the name can be created again");
    }

    @Test
    void unknownOrForeignIdsAreAlreadyDeleted() {
        delete(VolumeIds.fromName("never-created"));
        delete("not/an id of this driver");
        delete("UPPER");
    }

    @Test
    void emptyIdIsInvalid() {
        assertEquals(Status.Code.INVALID_ARGUMENT, failure(() -> delete("")).getCode());
    }

    @Test
    void volumeStagedOrPublishedOnThisNodeIsFailedPrecondition() throws Exception {
        String id = createVolume("pvc-1", null);
        f.inUse.put(id, "published at /var/lib/kubelet/pods/1234/volumes/kubernetes.io~csi/pvc-1/mount");
        Status s = failure(() -> delete(id));
        assertEquals(Status.Code.FAILED_PRECONDITION, s.getCode());
        assertTrue(s.getDescription().contains("/var/lib/kubelet/pods/1234"), s.getDescription());
        assertTrue(s.getDescription().contains(Fixture.NODE), s.getDescription());
        assertTrue(f.devices.getVolume(id).isPresent());

        f.inUse.remove(id);
        delete(id);
        assertTrue(f.devices.getVolume(id).isEmpty());
    }

    @Test
    void deviceStillOpenIsFailedPrecondition() throws Exception {
        String id = createVolume("pvc-1", null);
        f.devices.setInUse(id, true);
        Status s = failure(() -> delete(id));
        assertEquals(Status.Code.FAILED_PRECONDITION, s.getCode());
        assertTrue(s.getDescription().contains(Fixture.NODE) && s.getDescription().contains("in use"), s.getDescription());
        assertTrue(f.devices.getVolume(id).isPresent());
        assertTrue(f.devices.erasedVolumes().isEmpty());
        assertFalse(f.locks.isHeld(id));
    }

    @Test
    @SuppressWarnings("try") // the lock is held for the block
    void deleteWhileAnotherOperationHoldsTheVolumeIsAborted() throws Exception {
        String id = createVolume("pvc-1", null);
        String other = createVolume("pvc-2", null);
        try (VolumeLocks.Held held = f.locks.tryAcquire(id).orElseThrow()) {
            assertEquals(Status.Code.ABORTED, failure(() -> delete(id)).getCode());
            assertTrue(f.devices.getVolume(id).isPresent());
            delete(other);
        }
        delete(id);
        assertTrue(f.devices.getVolume(id).isEmpty());
    }

    @Test
    void spaceIsReturnedAfterDelete() throws Exception {
        long before = f.devices.capacity().availableBytes();
        String id = createVolume("pvc-1", null);
        assertTrue(f.devices.capacity().availableBytes() < before);
        delete(id);
        assertEquals(before, f.devices.capacity().availableBytes());
    }
}
