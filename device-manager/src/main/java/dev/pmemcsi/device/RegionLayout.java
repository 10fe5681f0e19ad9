package dev.pmemcsi.device;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.function.ToLongFunction;

/**
 * The occupancy of one region, and the one placement policy of every backend.
 *
 * <p>Real PMEM namespaces are contiguous, so a region fragments: after freeing a volume between
 * two others, its space is free but cannot merge with the rest. A layout built from the allocated
 * extents computes free space and the largest extent the same way for every backend that places
 * volumes itself. A backend whose kernel places them (direct mode) knows only the figures the
 * kernel reports, and builds the layout with {@link #reported}: its only known free extent is the
 * largest one.
 *
 * <p>Placement is <em>best fit</em>: the smallest known free extent that can hold the volume, at
 * its lowest offset, over all regions; ties go to the region listed first. Leaving the large
 * extents untouched keeps the largest creatable volume as large as possible, which is what the
 * scheduler sees as the maximum volume size.
 */
public final class RegionLayout {

    private final String region;
    private final int numaNode;
    private final long size;
    private final long alignment;
    private final List<Extent> allocated;
    /** Free extents with their offsets; empty for a reported layout. */
    private final List<Extent> free;
    /** The lengths of the free extents placement may choose from. */
    private final List<Long> candidates;
    private final long availableBytes;
    private final long usedBytes;

    /** A layout of a region with an unknown NUMA node, whose allocated extents all count as used. */
    public RegionLayout(String region, long size, long alignment, Collection<Extent> allocated) {
        this(region, -1, size, alignment, allocated, -1);
    }

    /**
     * @param allocated extents that are not free: volumes, and space held by others
     * @param usedBytes bytes held by the driver's volumes, or -1 for all of {@code allocated}
     */
    public RegionLayout(String region, int numaNode, long size, long alignment, Collection<Extent> allocated,
                        long usedBytes) {
        requirePositive(size, alignment);
        this.region = region;
        this.numaNode = numaNode;
        this.size = size;
        this.alignment = alignment;
        List<Extent> sorted = new ArrayList<>(allocated);
        sorted.sort(null);
        for (int i = 0; i < sorted.size(); i++) {
            Extent e = sorted.get(i);
            if (e.end() > size) {
                throw new IllegalArgumentException(region + ": extent " + e + " beyond the region size " + size);
            }
            if (i > 0 && sorted.get(i - 1).overlaps(e)) {
                throw new IllegalArgumentException(region + ": extents overlap: " + sorted.get(i - 1) + " and " + e);
            }
        }
        this.allocated = List.copyOf(sorted);
        this.free = computeFree(sorted);
        this.candidates = free.stream().map(Extent::length).toList();
        this.availableBytes = free.stream().mapToLong(Extent::length).sum();
        this.usedBytes = usedBytes >= 0 ? usedBytes : this.allocated.stream().mapToLong(Extent::length).sum();
    }

    private RegionLayout(String region, int numaNode, long size, long alignment, long availableBytes,
                         long maxExtentBytes, long usedBytes) {
        requirePositive(size, alignment);
        this.region = region;
        this.numaNode = numaNode;
        this.size = size;
        this.alignment = alignment;
        this.allocated = List.of();
        this.free = List.of();
        this.candidates = maxExtentBytes > 0 ? List.of(maxExtentBytes) : List.of();
        this.availableBytes = availableBytes;
        this.usedBytes = usedBytes;
    }

    /**
     * A region whose free space only the kernel knows: the free bytes and the largest free extent
     * as it reports them (aligned down by the caller). Placement can choose the region, not the offset.
     */
    public static RegionLayout reported(String region, int numaNode, long size, long alignment, long availableBytes,
                                        long maxExtentBytes, long usedBytes) {
        return new RegionLayout(region, numaNode, size, alignment, availableBytes, maxExtentBytes, usedBytes);
    }

    private static void requirePositive(long size, long alignment) {
        if (size <= 0 || alignment <= 0) {
            throw new IllegalArgumentException("region size and alignment must be positive");
        }
    }

    private List<Extent> computeFree(List<Extent> sorted) {
        List<Extent> result = new ArrayList<>();
        long cursor = 0;
        for (Extent e : sorted) {
            addFree(result, cursor, e.offset());
            cursor = e.end();
        }
        addFree(result, cursor, size);
        return List.copyOf(result);
    }

    /** Free space between {@code from} and {@code to}, trimmed to allocation-unit boundaries. */
    private void addFree(List<Extent> out, long from, long to) {
        long start = CapacityMath.roundUp(from, alignment);
        long end = CapacityMath.alignDown(to, alignment);
        if (end > start) {
            out.add(new Extent(start, end - start));
        }
    }

    public String region() {
        return region;
    }

    public long size() {
        return size;
    }

    public long alignment() {
        return alignment;
    }

    public List<Extent> allocated() {
        return allocated;
    }

    /** Free extents, each starting and ending on an allocation-unit boundary; empty for a reported layout. */
    public List<Extent> free() {
        return free;
    }

    public long allocatedBytes() {
        return allocated.stream().mapToLong(Extent::length).sum();
    }

    public long availableBytes() {
        return availableBytes;
    }

    public long maxExtentBytes() {
        return candidates.stream().mapToLong(Long::longValue).max().orElse(0);
    }

    /** Where a volume of {@code rawBytes} would go: best fit, or empty when nothing fits. */
    public Optional<Extent> bestFit(long rawBytes) {
        Extent best = null;
        for (Extent f : free) {
            if (f.length() >= rawBytes && (best == null || f.length() < best.length())) {
                best = f;
            }
        }
        return best == null ? Optional.empty() : Optional.of(new Extent(best.offset(), rawBytes));
    }

    /** What capacity reporting shows of this region. */
    public RegionCapacity capacity() {
        return new RegionCapacity(region, numaNode, alignment, size, availableBytes, maxExtentBytes(), usedBytes);
    }

    /**
     * Picks the region for a new volume among several: the one whose best-fitting free extent is
     * the smallest that still holds it; ties go to the region listed first.
     */
    public static Optional<RegionLayout> chooseRegion(List<RegionLayout> regions, long rawBytes) {
        return chooseRegion(regions, r -> rawBytes);
    }

    /**
     * As {@link #chooseRegion(List, long)}, for a volume whose raw size depends on the region
     * (its allocation unit); {@link Long#MAX_VALUE} fits nowhere.
     */
    public static Optional<RegionLayout> chooseRegion(List<RegionLayout> regions, ToLongFunction<RegionLayout> rawBytesFor) {
        RegionLayout best = null;
        long bestExtent = Long.MAX_VALUE;
        for (RegionLayout r : regions) {
            long raw = rawBytesFor.applyAsLong(r);
            for (long length : r.candidates) {
                if (length >= raw && length < bestExtent) {
                    best = r;
                    bestExtent = length;
                }
            }
        }
        return Optional.ofNullable(best);
    }
}
