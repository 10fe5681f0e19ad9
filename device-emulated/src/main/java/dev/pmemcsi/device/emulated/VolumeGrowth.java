package dev.pmemcsi.device.emulated;

import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.OutOfRangeException;
import dev.pmemcsi.device.RegionLayout;
import java.util.Map;
import java.util.Optional;

/**
 * The size arithmetic of growing a volume, apart from any device so that it can be tested alone.
 *
 * <p>The new extent is what a create of the requested size would allocate. The bytes that stand in
 * for the mode's metadata (and hold the label) keep their original size and place, since the data
 * behind them must not move: the device keeps its first byte where it was and takes the rest of the
 * grown extent. It therefore offers at least what a created volume of the same extent would, and
 * the extent, which is all capacity accounting sees, is exactly a create's.
 */
final class VolumeGrowth {

    private VolumeGrowth() {}

    /**
     * The row of {@code r} grown to hold {@code requiredBytes}, still READY; empty when the volume
     * already has that capacity (0 asks for nothing, and a smaller request is no shrink).
     *
     * @param largestRegion size of the largest region: a volume can never be larger
     * @throws OutOfRangeException when the limit is below the request or the smallest volume, or no
     *                             region could ever hold the grown extent
     */
    static Optional<VolumeRecord> grown(VolumeRecord r, long requiredBytes, long limitBytes, long alignment,
                                        long largestRegion) throws OutOfRangeException {
        if (requiredBytes < 0 || limitBytes < 0) {
            throw new OutOfRangeException("required_bytes and limit_bytes must not be negative: " + requiredBytes
                    + ", " + limitBytes);
        }
        if (limitBytes != 0 && limitBytes < requiredBytes) {
            throw new OutOfRangeException("limit_bytes " + limitBytes + " is below required_bytes " + requiredBytes);
        }
        if (requiredBytes == 0 || requiredBytes <= r.capacity()) {
            return Optional.empty();
        }
        CapacityMath.checkLimit(r.mode(), limitBytes, alignment);
        long raw = Math.max(r.rawBytes(), CapacityMath.rawBytesFor(r.mode(), requiredBytes, alignment));
        if (raw > largestRegion) {
            throw new OutOfRangeException("volume " + r.id() + " cannot grow to " + requiredBytes + " bytes: a "
                    + r.mode() + " volume of that size takes " + (raw == Long.MAX_VALUE ? "more than 2^63" : raw)
                    + " bytes of a region, and the largest region of this node has " + largestRegion);
        }
        long metadata = r.rawBytes() - r.usableBytes();
        long usable = raw - metadata;
        return Optional.of(new VolumeRecord(r.id(), r.region(), r.offset(), raw, usable, r.mode(), r.eraseAfter(),
                r.attributes(), r.state(), r.eraseOnDelete(), CapacityMath.capacityBytes(usable, limitBytes), r.access()));
    }

    /**
     * The row of {@code r} moved to a fresh extent of {@code rawBytes} at {@code offset} of
     * {@code region}: laid out as a create would lay it out, metadata and all.
     */
    static VolumeRecord moved(VolumeRecord r, String region, long offset, long rawBytes, long limitBytes) {
        long usable = CapacityMath.usableBytes(r.mode(), rawBytes);
        return new VolumeRecord(r.id(), region, offset, rawBytes, usable, r.mode(), r.eraseAfter(), r.attributes(),
                VolumeState.READY, false, CapacityMath.capacityBytes(usable, limitBytes), r.access());
    }

    /** The row that holds {@code extent}'s space for a moving volume: DELETING with erase, so a start frees it. */
    static VolumeRecord moveHolder(VolumeRecord extent) {
        return new VolumeRecord(extent.id().endsWith(Recovery.MOVE_SUFFIX) ? extent.id() : extent.id() + Recovery.MOVE_SUFFIX,
                extent.region(), extent.offset(), extent.rawBytes(), extent.usableBytes(), extent.mode(), false, Map.of(),
                VolumeState.DELETING, true);
    }

    /**
     * Whether {@code layout}, computed with {@code r} in it, has {@code [end of r, offset of r + rawBytes)}
     * free: no volume, no space held by others, no end of the region.
     */
    static boolean freeAfter(RegionLayout layout, VolumeRecord r, long rawBytes) {
        if (rawBytes <= r.rawBytes()) {
            return true;
        }
        long end = r.offset() + rawBytes;
        return layout.free().stream().anyMatch(f -> f.offset() == r.extent().end() && f.end() >= end);
    }
}
