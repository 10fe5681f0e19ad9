package dev.pmemcsi.device.ndctl;

import dev.pmemcsi.device.DeviceException;
import java.nio.file.Path;

/** Overwrites a volume's whole device with zeros before its namespace is destroyed. */
@FunctionalInterface
public interface VolumeEraser {

    /** @throws dev.pmemcsi.device.VolumeInUseException when the device is mounted or open */
    void erase(String volumeId, Path device) throws DeviceException;
}
