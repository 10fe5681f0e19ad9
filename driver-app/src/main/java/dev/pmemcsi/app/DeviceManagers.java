package dev.pmemcsi.app;

import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.emulated.EmulatedDeviceManager;
import dev.pmemcsi.device.ndctl.BlockDeviceEraser;
import dev.pmemcsi.device.ndctl.LibNdctlBackend;
import dev.pmemcsi.device.ndctl.NdctlDeviceManager;
import dev.pmemcsi.device.ndctl.VolumeEraser;
import java.nio.file.Path;

/** Builds the backend that {@code --device-manager} names. */
final class DeviceManagers {

    private DeviceManagers() {}

    /** @param listener is told about the backend's erases */
    static DeviceManager create(DriverOptions options, OperationListener listener) {
        return switch (options.deviceManager) {
            case ndctl -> new NdctlDeviceManager(options.driverName, new LibNdctlBackend(),
                    observed(new BlockDeviceEraser(BlockDeviceEraser.Method.ZEROOUT), listener));
            case emulated -> new EmulatedDeviceManager(options.emulatedDir(),
                    EmulatedDeviceManager.parseRegionSizes(options.emulatedRegions),
                    EmulatedDeviceManager.DEFAULT_ALIGNMENT, listener);
        };
    }

    /**
     * The direct-mode eraser is pluggable, so its erases are observed without a hook in the backend.
     * Wiping the signatures of a new volume touches two MiB and is part of its create, so it is not
     * timed on its own.
     */
    static VolumeEraser observed(VolumeEraser eraser, OperationListener listener) {
        return new VolumeEraser() {
            @Override
            public void erase(String volumeId, Path device) throws DeviceException {
                OperationListener.Running op = listener.started(OperationListener.Kind.ERASE,
                        "volume " + volumeId + " on " + device);
                try {
                    eraser.erase(volumeId, device);
                    op.finished(null);
                } catch (DeviceException | RuntimeException e) {
                    op.finished(e);
                    throw e;
                }
            }

            @Override
            public void wipeSignatures(String volumeId, Path device) throws DeviceException {
                eraser.wipeSignatures(volumeId, device);
            }
        };
    }
}
