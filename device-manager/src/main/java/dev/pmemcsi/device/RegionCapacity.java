package dev.pmemcsi.device;

/**
 * Raw capacity of one region, in bytes of media.
 *
 * @param region          region name, e.g. {@code region0}
 * @param numaNode        NUMA node of the region, or -1 when unknown
 * @param alignment       allocation unit: every volume size is a multiple of it
 * @param totalBytes      size of the region
 * @param availableBytes  free bytes (all free extents), aligned down to {@code alignment}
 * @param maxExtentBytes  largest contiguous free extent, aligned down to {@code alignment}
 * @param usedBytes       bytes held by the driver's volumes
 */
public record RegionCapacity(
        String region,
        int numaNode,
        long alignment,
        long totalBytes,
        long availableBytes,
        long maxExtentBytes,
        long usedBytes) {

    /** Usable bytes of the largest volume of {@code mode} that fits in {@code rawBytes}. */
    long usableFor(VolumeMode mode, long rawBytes) {
        long raw = CapacityMath.alignDown(rawBytes, alignment);
        return raw == 0 ? 0 : CapacityMath.usableBytes(mode, raw);
    }
}
