package dev.pmemcsi.app;

import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.emulated.EmulatedDeviceManager;
import dev.pmemcsi.device.ndctl.NdctlDeviceManager;

/** Builds the backend that {@code --device-manager} names. */
final class DeviceManagers {

    private DeviceManagers() {}

    static DeviceManager create(DriverOptions options) {
        return switch (options.deviceManager) {
            case ndctl -> new NdctlDeviceManager(options.driverName);
            case emulated -> new EmulatedDeviceManager(options.emulatedDir(),
                    EmulatedDeviceManager.parseRegionSizes(options.emulatedRegions));
        };
    }
}
