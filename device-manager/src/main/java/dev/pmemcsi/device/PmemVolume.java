package dev.pmemcsi.device;

import java.nio.file.Path;
import java.util.Map;

/**
 * A volume owned by the driver, as the device layer knows it: where it lives and what it was
 * created for. The CSI services turn it into the protocol's own {@code csi.v1.Volume}.
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
 * @param capacityBytes  the size promised at creation, at most {@code usableBytes}: a filesystem
 *                       made on the volume has this size, so it is what the user sees whatever
 *                       the allocation unit added to the device
 * @param access         what the volume was created for
 */
public record PmemVolume(
        String id,
        String region,
        VolumeMode mode,
        long allocatedBytes,
        long usableBytes,
        Path devicePath,
        boolean daxCapable,
        boolean eraseAfter,
        Map<String, String> attributes,
        long capacityBytes,
        VolumeAccess access) {

    public PmemVolume {
        attributes = Map.copyOf(attributes == null ? Map.of() : attributes);
        access = access == null ? VolumeAccess.UNRECORDED : access;
        if (capacityBytes <= 0 || capacityBytes > usableBytes) {
            capacityBytes = usableBytes;
        }
    }

    /** A volume whose capacity is its whole device and whose use was not recorded. */
    public PmemVolume(String id, String region, VolumeMode mode, long allocatedBytes, long usableBytes, Path devicePath,
                  boolean daxCapable, boolean eraseAfter, Map<String, String> attributes) {
        this(id, region, mode, allocatedBytes, usableBytes, devicePath, daxCapable, eraseAfter, attributes,
                usableBytes, VolumeAccess.UNRECORDED);
    }

    /** The same volume on another device path; the size and record stay. */
    public PmemVolume withDevice(Path path, boolean dax) {
        return new PmemVolume(id, region, mode, allocatedBytes, usableBytes, path, dax, eraseAfter, attributes,
                capacityBytes, access);
    }
}
