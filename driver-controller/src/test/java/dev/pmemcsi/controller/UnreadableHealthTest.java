package dev.pmemcsi.controller;

import static dev.pmemcsi.controller.Fixture.GIB;
import static dev.pmemcsi.controller.Fixture.create;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.csi.v1.ControllerGetVolumeRequest;
import dev.pmemcsi.csi.v1.ListVolumesRequest;
import dev.pmemcsi.csi.v1.ListVolumesResponse;
import dev.pmemcsi.csi.v1.VolumeCondition;
import dev.pmemcsi.device.Capacity;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceHealth;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.InMemoryDeviceManager;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.UnmanagedExtent;
import dev.pmemcsi.device.VolumeHealth;
import dev.pmemcsi.device.VolumeRequest;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;

/** A volume whose health cannot be read is reported abnormal; it does not fail the whole call. */
class UnreadableHealthTest {

    /** The in-memory backend, except that reading the health of chosen volumes fails. */
    private static final class UnreadableHealth implements DeviceManager {
        private final InMemoryDeviceManager d;
        final Set<String> unreadable = ConcurrentHashMap.newKeySet();

        UnreadableHealth(InMemoryDeviceManager d) {
            this.d = d;
        }

        @Override public VolumeHealth volumeHealth(String id) throws DeviceException {
            if (unreadable.contains(id)) {
                throw new DeviceException("reading badblocks of " + id + ": Input/output error");
            }
            return d.volumeHealth(id);
        }

        @Override public String backendName() { return d.backendName(); }
        @Override public void start() { d.start(); }
        @Override public boolean isReady() { return d.isReady(); }
        @Override public List<PmemVolume> listVolumes() { return d.listVolumes(); }
        @Override public Optional<PmemVolume> getVolume(String id) { return d.getVolume(id); }
        @Override public PmemVolume createVolume(VolumeRequest r) throws DeviceException { return d.createVolume(r); }
        @Override public void deleteVolume(String id, boolean erase) throws DeviceException { d.deleteVolume(id, erase); }
        @Override public Capacity capacity() { return d.capacity(); }
        @Override public DeviceHealth deviceHealth() { return d.deviceHealth(); }
        @Override public List<UnmanagedExtent> unmanagedExtents() { return d.unmanagedExtents(); }
        @Override public void close() { d.close(); }
    }

    @Test
    void unreadableHealthIsAbnormalWithTheReason() throws Exception {
        InMemoryDeviceManager memory = new InMemoryDeviceManager(new long[] {4 * GIB});
        UnreadableHealth devices = new UnreadableHealth(memory);
        try (Fixture f = new Fixture(memory, devices)) {
            String bad = f.stub.createVolume(create("pvc-1").build()).getVolume().getVolumeId();
            String good = f.stub.createVolume(create("pvc-2").build()).getVolume().getVolumeId();
            devices.unreadable.add(bad);

            VolumeCondition c = f.stub.controllerGetVolume(ControllerGetVolumeRequest.newBuilder().setVolumeId(bad).build())
                    .getStatus().getVolumeCondition();
            assertTrue(c.getAbnormal());
            assertTrue(c.getMessage().contains("Input/output error"), c.getMessage());

            ListVolumesResponse list = f.stub.listVolumes(ListVolumesRequest.getDefaultInstance());
            assertEquals(2, list.getEntriesCount());
            for (ListVolumesResponse.Entry e : list.getEntriesList()) {
                boolean isBad = e.getVolume().getVolumeId().equals(bad);
                assertEquals(isBad, e.getStatus().getVolumeCondition().getAbnormal());
                if (!isBad) {
                    assertEquals(good, e.getVolume().getVolumeId());
                }
            }
            assertFalse(devices.unreadable.contains(good));
        }
    }
}
