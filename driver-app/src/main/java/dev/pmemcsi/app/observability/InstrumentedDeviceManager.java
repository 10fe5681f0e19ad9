package dev.pmemcsi.app.observability;

import dev.pmemcsi.device.Capacity;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceHealth;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.UnmanagedExtent;
import dev.pmemcsi.device.Volume;
import dev.pmemcsi.device.VolumeHealth;
import dev.pmemcsi.device.VolumeRequest;
import java.util.List;
import java.util.Optional;

/**
 * A backend whose creates and deletes are reported to an {@link OperationListener}; everything
 * else passes straight through. Both CSI services and ephemeral volumes go through it, so every
 * create and delete is timed whoever asks for it.
 */
public final class InstrumentedDeviceManager implements DeviceManager {

    private final DeviceManager delegate;
    private final OperationListener listener;

    public InstrumentedDeviceManager(DeviceManager delegate, OperationListener listener) {
        this.delegate = delegate;
        this.listener = listener;
    }

    @Override
    public Volume createVolume(VolumeRequest request) throws DeviceException {
        OperationListener.Running op = listener.started(OperationListener.Kind.CREATE, "volume " + request.volumeId());
        try {
            Volume v = delegate.createVolume(request);
            op.finished(null);
            return v;
        } catch (DeviceException | RuntimeException e) {
            op.finished(e);
            throw e;
        }
    }

    @Override
    public void deleteVolume(String volumeId, boolean erase) throws DeviceException {
        OperationListener.Running op = listener.started(OperationListener.Kind.DELETE, "volume " + volumeId);
        try {
            delegate.deleteVolume(volumeId, erase);
            op.finished(null);
        } catch (DeviceException | RuntimeException e) {
            op.finished(e);
            throw e;
        }
    }

    @Override
    public String backendName() {
        return delegate.backendName();
    }

    @Override
    public void start() throws DeviceException {
        delegate.start();
    }

    @Override
    public boolean isReady() {
        return delegate.isReady();
    }

    @Override
    public List<Volume> listVolumes() throws DeviceException {
        return delegate.listVolumes();
    }

    @Override
    public Optional<Volume> getVolume(String volumeId) throws DeviceException {
        return delegate.getVolume(volumeId);
    }

    @Override
    public Capacity capacity() throws DeviceException {
        return delegate.capacity();
    }

    @Override
    public VolumeHealth volumeHealth(String volumeId) throws DeviceException {
        return delegate.volumeHealth(volumeId);
    }

    @Override
    public DeviceHealth deviceHealth() throws DeviceException {
        return delegate.deviceHealth();
    }

    @Override
    public List<UnmanagedExtent> unmanagedExtents() throws DeviceException {
        return delegate.unmanagedExtents();
    }

    @Override
    public void close() {
        delegate.close();
    }
}
