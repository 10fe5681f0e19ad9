package dev.pmemcsi.device;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;

/**
 * The occupancy of one region: which extents are allocated and which are free.
 *
 * <p>Real PMEM namespaces are contiguous, so a region fragments: after freeing a volume between
 * two others, its space is free but cannot merge with the rest. This class computes free space
 * and the largest extent the same way for every backend, and picks where a new volume goes.
 *
 * <p>Placement is <em>best fit</em>: the smallest free extent that can hold the volume, at its
 * lowest offset. Leaving the large extents untouched keeps the largest creatable volume as large
 * as possible, which is what the scheduler sees as the maximum volume size.
 */
public final class RegionLayout {

    private final String region;
    private final long size;
    private final long alignment;
    private final List<Extent> allocated;
    private final List<Extent> free;

    public RegionLayout(String region, long size, long alignment, Collection<Extent> allocated) {
        if (size <= 0 || alignment <= 0) {
            throw new IllegalArgumentException("region size and alignment must be positive");
        }
        this.region = region;
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

    /** Free extents, each starting and ending on an allocation-unit boundary. */
    public List<Extent> free() {
        return free;
    }

    public long allocatedBytes() {
        return allocated.stream().mapToLong(Extent::length).sum();
    }

    public long availableBytes() {
        return free.stream().mapToLong(Extent::length).sum();
    }

    public long maxExtentBytes() {
        return free.stream().mapToLong(Extent::length).max().orElse(0);
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

    public RegionCapacity capacity(int numaNode) {
        return new RegionCapacity(region, numaNode, alignment, size, availableBytes(), maxExtentBytes(), allocatedBytes());
    }

    /**
     * Picks the region for a new volume among several: the one whose best-fitting free extent is
     * the smallest that still holds it; ties go to the region listed first.
     */
    public static Optional<RegionLayout> chooseRegion(List<RegionLayout> regions, long rawBytes) {
        RegionLayout best = null;
        long bestExtent = Long.MAX_VALUE;
        for (RegionLayout r : regions) {
            for (Extent f : r.free) {
                if (f.length() >= rawBytes && f.length() < bestExtent) {
                    best = r;
                    bestExtent = f.length();
                }
            }
        }
        return Optional.ofNullable(best);
    }
}
