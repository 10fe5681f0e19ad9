package dev.pmemcsi.device;

import java.nio.file.Path;
import java.util.Map;

/**
 * A volume owned by the driver.
 *
 * @param id             the volume ID
 * @param region         the region that holds it, e.g. {@code region0}
 * @param mode           its device mode
 * @param allocatedBytes the raw PMEM it occupies, metadata included
 * @param usableBytes    the bytes its block device offers
 * @param devicePath     its block device, e.g. {@code /dev/pmem0} or {@code /dev/loop3}
 * @param daxCapable     whether a filesystem on the device can be mounted with {@code -o dax}
 * @param eraseAfter     whether deleting it zeroes its data
 * @param attributes     the attributes recorded at creation
 */
public record Volume(
        String id,
        String region,
        VolumeMode mode,
        long allocatedBytes,
        long usableBytes,
        Path devicePath,
        boolean daxCapable,
        boolean eraseAfter,
        Map<String, String> attributes) {

    public Volume {
        attributes = Map.copyOf(attributes == null ? Map.of() : attributes);
    }
}
