package dev.pmemcsi.device.ndctl;

import dev.pmemcsi.device.DeviceException;
import java.nio.file.Path;

/** Clears a volume's data: all of it before its namespace is destroyed, or its signatures when it is new. */
public interface VolumeEraser {

    /**
     * Overwrites the whole device with zeros.
     *
     * @throws dev.pmemcsi.device.VolumeInUseException when the device is mounted or open
     */
    void erase(String volumeId, Path device) throws DeviceException;

    /**
     * Zeroes the first and last MiB of a newly created volume, where filesystem and partition
     * signatures live. Destroying a namespace keeps its data (unless the volume was erased), and
     * a new namespace at the same place would otherwise show the old filesystem to its new owner.
     */
    void wipeSignatures(String volumeId, Path device) throws DeviceException;
}
