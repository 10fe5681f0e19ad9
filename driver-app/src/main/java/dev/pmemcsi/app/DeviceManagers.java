package dev.pmemcsi.app;

import dev.pmemcsi.device.BlockDeviceEraser;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.PoolDevices;
import dev.pmemcsi.device.emulated.EmulatedDeviceManager;
import dev.pmemcsi.device.lvm.LvmConfig;
import dev.pmemcsi.device.lvm.LvmDeviceManager;
import dev.pmemcsi.device.lvm.StaticPoolDevices;
import dev.pmemcsi.device.ndctl.LibNdctlBackend;
import dev.pmemcsi.device.ndctl.NdctlDeviceManager;
import dev.pmemcsi.device.ndctl.NdctlPoolDevices;

/** Builds the backend that {@code --device-manager} names. */
final class DeviceManagers {

    private DeviceManagers() {}

    /** @param listener is told about the backend's creates, deletes and erases */
    static DeviceManager create(DriverOptions options, OperationListener listener) {
        return switch (options.deviceManager) {
            case ndctl -> new NdctlDeviceManager(options.driverName, new LibNdctlBackend(),
                    new BlockDeviceEraser(BlockDeviceEraser.Method.ZEROOUT), listener, options.regionPreference());
            case emulated -> new EmulatedDeviceManager(options.emulatedDir(),
                    EmulatedDeviceManager.parseRegionSizes(options.emulatedRegions),
                    EmulatedDeviceManager.DEFAULT_ALIGNMENT, listener);
            case lvm -> new LvmDeviceManager(options.driverName, poolDevices(options), lvmConfig(options), listener);
        };
    }

    /**
     * Where LVM mode's physical volumes come from: the devices --lvm-devices names, or else one
     * fsdax namespace per region that the driver finds or makes through libndctl, at
     * --pmem-percentage of the region (label-less regions whole). The one place that chooses.
     */
    static PoolDevices poolDevices(DriverOptions options) {
        if (!options.lvmDevices.isEmpty()) {
            return new StaticPoolDevices(options.lvmDevices, options.pmemPercentage);
        }
        return new NdctlPoolDevices(options.driverName, options.pmemPercentage);
    }

    /** Locks in --lvm-lock-dir or STATE-DIR/lvm/lock, metadata backups in STATE-DIR/lvm/backup. */
    static LvmConfig lvmConfig(DriverOptions options) {
        LvmConfig config = LvmConfig.under(options.lvmDir());
        return options.lvmLockDir == null ? config : config.withLockDir(options.lvmLockDir);
    }
}
