package dev.pmemcsi.device.ndctl;

import dev.pmemcsi.device.DeviceException;
import java.nio.file.Path;

/** Copies a volume's bytes from its old device to the device of its new, larger namespace. */
interface VolumeCopier {

    /**
     * Copies the first {@code bytes} of {@code from} to {@code to} and makes them durable before
     * it returns.
     *
     * @throws dev.pmemcsi.device.VolumeInUseException when either device is mounted or open
     */
    void copy(String volumeId, Path from, Path to, long bytes) throws DeviceException;
}
