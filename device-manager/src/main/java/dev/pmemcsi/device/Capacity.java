package dev.pmemcsi.device;

import java.util.List;

/**
 * Raw capacity of a backend, in bytes of PMEM, per region.
 *
 * <p>Figures here count media bytes, metadata included. What a user can request for a given mode
 * (usable bytes) is derived with {@link CapacityMath}; see {@link #requestable(VolumeMode)}.
 */
public record Capacity(List<RegionCapacity> regions) {

    public Capacity {
        regions = List.copyOf(regions);
    }

    public long totalBytes() {
        return regions.stream().mapToLong(RegionCapacity::totalBytes).sum();
    }

    /** Sum of free space over regions, each aligned down to its allocation unit. */
    public long availableBytes() {
        return regions.stream().mapToLong(RegionCapacity::availableBytes).sum();
    }

    /** The largest contiguous free extent over all regions, aligned down. */
    public long maxVolumeBytes() {
        return regions.stream().mapToLong(RegionCapacity::maxExtentBytes).max().orElse(0);
    }

    /** Bytes held by the driver's volumes. */
    public long usedBytes() {
        return regions.stream().mapToLong(RegionCapacity::usedBytes).sum();
    }

    /** What can be requested now for volumes of {@code mode}, in usable bytes. */
    public Requestable requestable(VolumeMode mode) {
        long available = 0;
        long max = 0;
        long min = Long.MAX_VALUE;
        for (RegionCapacity r : regions) {
            available += r.usableFor(mode, r.availableBytes());
            max = Math.max(max, r.usableFor(mode, r.maxExtentBytes()));
            if (r.holds(mode)) {
                min = Math.min(min, r.minimumFor(mode));
            }
        }
        // No region that can hold the mode: nothing can be requested, not even the smallest volume.
        return new Requestable(available, max, min == Long.MAX_VALUE ? 0 : Math.max(0, min));
    }

    /**
     * Capacity in the unit users request: usable bytes of a volume of one mode.
     *
     * @param availableBytes  sum over regions of the usable size of their free space
     * @param maxVolumeBytes  the largest volume that can be created now
     * @param minVolumeBytes  the smallest volume a region can hold (one allocation unit)
     */
    public record Requestable(long availableBytes, long maxVolumeBytes, long minVolumeBytes) {}
}
