package dev.pmemcsi.controller;

import dev.pmemcsi.csi.v1.CapacityRange;
import dev.pmemcsi.driver.InvalidRequestException;

/**
 * A CSI {@code capacity_range}, checked. The device layer makes a device of at least
 * {@code requiredBytes} and reports a capacity of at most {@code limitBytes}, so every range
 * at or above the smallest volume can be met.
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
}
