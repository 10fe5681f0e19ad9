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
 * @param linearVolumes   whether volumes are slices of a device that already carries the fsdax
 *                        metadata (LVM mode: logical volumes on an fsdax namespace): a volume's
 *                        usable size is then its raw size, and only fsdax volumes exist
 * @param technology      where the region's memory comes from: {@code nvdimm}, {@code cxl},
 *                        {@code e820}, {@code emulated}, {@code loop}, or {@link #UNKNOWN}
 */
public record RegionCapacity(
        String region,
        int numaNode,
        long alignment,
        long totalBytes,
        long availableBytes,
        long maxExtentBytes,
        long usedBytes,
        boolean linearVolumes,
        String technology) {

    /** The technology of a region whose backend does not say. */
    public static final String UNKNOWN = "unknown";

    public RegionCapacity {
        technology = technology == null || technology.isBlank() ? UNKNOWN : technology;
    }

    /** A region of unknown technology. */
    public RegionCapacity(String region, int numaNode, long alignment, long totalBytes, long availableBytes,
                          long maxExtentBytes, long usedBytes, boolean linearVolumes) {
        this(region, numaNode, alignment, totalBytes, availableBytes, maxExtentBytes, usedBytes, linearVolumes, UNKNOWN);
    }

    /** A region whose volumes carry their mode's metadata themselves (namespaces, emulated extents). */
    public RegionCapacity(String region, int numaNode, long alignment, long totalBytes, long availableBytes,
                          long maxExtentBytes, long usedBytes) {
        this(region, numaNode, alignment, totalBytes, availableBytes, maxExtentBytes, usedBytes, false);
    }

    /** The same region, of {@code technology}. */
    public RegionCapacity withTechnology(String technology) {
        return new RegionCapacity(region, numaNode, alignment, totalBytes, availableBytes, maxExtentBytes, usedBytes,
                linearVolumes, technology);
    }

    /** Whether a volume of {@code mode} can exist in this region at all. */
    boolean holds(VolumeMode mode) {
        return !linearVolumes || mode == VolumeMode.FSDAX;
    }

    /** Usable bytes of the largest volume of {@code mode} that fits in {@code rawBytes}. */
    long usableFor(VolumeMode mode, long rawBytes) {
        long raw = CapacityMath.alignDown(rawBytes, alignment);
        if (raw == 0 || !holds(mode)) {
            return 0;
        }
        return linearVolumes ? raw : CapacityMath.usableBytes(mode, raw);
    }

    /** The smallest capacity a volume of {@code mode} has here: one allocation unit's usable bytes. */
    long minimumFor(VolumeMode mode) {
        return linearVolumes ? alignment : CapacityMath.minimumCapacity(mode, alignment);
    }
}
