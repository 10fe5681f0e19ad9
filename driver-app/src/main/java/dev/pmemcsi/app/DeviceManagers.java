package dev.pmemcsi.app;

import dev.pmemcsi.device.BlockDeviceEraser;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.emulated.EmulatedDeviceManager;
import dev.pmemcsi.device.ndctl.LibNdctlBackend;
import dev.pmemcsi.device.ndctl.NdctlDeviceManager;

/** Builds the backend that {@code --device-manager} names. */
final class DeviceManagers {

    private DeviceManagers() {}

    /** @param listener is told about the backend's creates, deletes and erases */
    static DeviceManager create(DriverOptions options, OperationListener listener) {
        return switch (options.deviceManager) {
            case ndctl -> new NdctlDeviceManager(options.driverName, new LibNdctlBackend(),
                    new BlockDeviceEraser(BlockDeviceEraser.Method.ZEROOUT), listener);
            case emulated -> new EmulatedDeviceManager(options.emulatedDir(),
                    EmulatedDeviceManager.parseRegionSizes(options.emulatedRegions),
                    EmulatedDeviceManager.DEFAULT_ALIGNMENT, listener);
        };
    }
}
