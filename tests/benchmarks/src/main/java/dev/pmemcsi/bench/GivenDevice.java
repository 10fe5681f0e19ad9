package dev.pmemcsi.bench;

import dev.pmemcsi.device.Capacity;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceHealth;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.UnmanagedExtent;
import dev.pmemcsi.device.VolumeHealth;
import dev.pmemcsi.device.VolumeRequest;
import java.util.List;
import java.util.Optional;

/**
 * A backend whose one volume lives on a device the operator named (a real {@code /dev/pmem*}, a
 * spare disk) instead of the device the backend made for it; everything else is the backend's.
 * It lets the Node service be measured on hardware without a backend for that hardware.
 */
final class GivenDevice implements DeviceManager {

    private final DeviceManager backend;
    private final PmemVolume volume;

    /** @param volume a volume of {@code backend}, already moved to the given device ({@link PmemVolume#withDevice}) */
    GivenDevice(DeviceManager backend, PmemVolume volume) {
        this.backend = backend;
        this.volume = volume;
    }

    private PmemVolume moved(PmemVolume v) {
        return v.id().equals(volume.id()) ? volume : v;
    }

    @Override
    public String backendName() {
        return backend.backendName();
    }

    @Override
    public void start() throws DeviceException {
        backend.start();
    }

    @Override
    public boolean isReady() {
        return backend.isReady();
    }

    @Override
    public List<PmemVolume> listVolumes() throws DeviceException {
        return backend.listVolumes().stream().map(this::moved).toList();
    }

    @Override
    public Optional<PmemVolume> getVolume(String volumeId) throws DeviceException {
        return backend.getVolume(volumeId).map(this::moved);
    }

    @Override
    public PmemVolume createVolume(VolumeRequest request) throws DeviceException {
        return moved(backend.createVolume(request));
    }

    @Override
    public void deleteVolume(String volumeId, boolean erase) throws DeviceException {
        backend.deleteVolume(volumeId, erase);
    }

    @Override
    public Capacity capacity() throws DeviceException {
        return backend.capacity();
    }

    @Override
    public VolumeHealth volumeHealth(String volumeId) throws DeviceException {
        return backend.volumeHealth(volumeId);
    }

    @Override
    public DeviceHealth deviceHealth() throws DeviceException {
        return backend.deviceHealth();
    }

    @Override
    public List<UnmanagedExtent> unmanagedExtents() throws DeviceException {
        return backend.unmanagedExtents();
    }

    @Override
    public void close() {
        backend.close();
    }
}
