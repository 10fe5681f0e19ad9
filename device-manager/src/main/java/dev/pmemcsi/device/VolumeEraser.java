package dev.pmemcsi.device;

import java.nio.file.Path;

/**
 * Clears a volume's data: all of it before its namespace or logical volume goes, or its signatures
 * when it is new. Direct mode and LVM mode share it.
 */
public interface VolumeEraser {

    /**
     * Overwrites the whole device with zeros.
     *
     * @throws dev.pmemcsi.device.VolumeInUseException when the device is mounted or open
     */
    void erase(String volumeId, Path device) throws DeviceException;

    /**
     * Zeroes the first and last MiB of a newly created volume, where filesystem and partition
     * signatures live. Destroying a namespace or removing a logical volume keeps its data (unless
     * the volume was erased), and a new volume at the same place would otherwise show the old
     * filesystem to its new owner.
     */
    void wipeSignatures(String volumeId, Path device) throws DeviceException;
}
