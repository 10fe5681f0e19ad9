package dev.pmemcsi.controller;

import dev.pmemcsi.csi.v1.CapacityRange;
import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.RegionCapacity;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.driver.InvalidRequestException;
import java.util.List;

/**
 * A CSI {@code capacity_range} turned into the usable-byte bounds the device layer takes.
 *
 * <p>The device layer rounds a request <em>up</em> to the smallest volume that offers at least
 * {@code requiredBytes}. That is exactly right when the caller names a minimum. When it names only
 * a limit, the smallest volume above the default size may overshoot the limit although smaller
 * volumes would do; {@link #forDevice} then picks a minimum that every region can round up without
 * crossing the limit.
 *
 * @param requiredBytes usable bytes the volume must offer at least; 0 when unspecified
 * @param limitBytes    usable bytes it must not exceed; 0 when unspecified
 */
record SizeRange(long requiredBytes, long limitBytes) {

    static SizeRange of(CapacityRange range) throws InvalidRequestException {
        long required = range.getRequiredBytes();
        long limit = range.getLimitBytes();
        if (required < 0 || limit < 0) {
            throw new InvalidRequestException("capacity_range must not be negative: required_bytes "
                    + required + ", limit_bytes " + limit);
        }
        if (limit != 0 && limit < required) {
            throw new InvalidRequestException("capacity_range limit_bytes " + limit
                    + " is below required_bytes " + required);
        }
        return new SizeRange(required, limit);
    }

    /** Whether {@code usableBytes} lies inside the range. */
    boolean admits(long usableBytes) {
        long min = requiredBytes == 0 ? 1 : requiredBytes;
        return usableBytes >= min && (limitBytes == 0 || usableBytes <= limitBytes);
    }

    /**
     * The required bytes to hand to the device layer. A range with only a limit asks for the
     * default size if it fits, else for the largest size that rounds to at most the limit in every
     * region. When no such size exists the limit itself is asked for, and the device layer reports
     * that it is out of range.
     */
    long requiredForDevice(VolumeMode mode, List<RegionCapacity> regions) {
        if (requiredBytes != 0 || limitBytes == 0) {
            return requiredBytes;
        }
        long target = Math.min(CapacityMath.DEFAULT_VOLUME_BYTES, limitBytes);
        for (RegionCapacity r : regions) {
            long fitting = largestUsableWithin(mode, limitBytes, r.alignment());
            if (fitting > 0) {
                target = Math.min(target, fitting);
            }
        }
        return target;
    }

    /** The largest usable size of a volume in units of {@code alignment} that stays within {@code limit}. */
    static long largestUsableWithin(VolumeMode mode, long limit, long alignment) {
        long raw = CapacityMath.rawBytesFor(mode, limit, alignment);
        if (raw == Long.MAX_VALUE) {
            return 0;
        }
        while (raw > 0 && CapacityMath.usableBytes(mode, raw) > limit) {
            raw -= alignment;
        }
        return raw <= 0 ? 0 : CapacityMath.usableBytes(mode, raw);
    }
}
