package dev.pmemcsi.device;

import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * Region choice for backends that only know each region's largest free extent (the kernel places
 * the namespace inside the region): best fit over regions, so large extents stay whole.
 */
public final class RegionChoice {

    private RegionChoice() {}

    /**
     * The region whose largest free extent is the smallest one that can hold {@code rawBytes}
     * after rounding to that region's alignment; ties go to the lower region name.
     *
     * @param rawBytesForRegion raw size needed in a region, which may depend on its alignment
     */
    public static Optional<RegionCapacity> bestFit(List<RegionCapacity> regions,
                                                   java.util.function.ToLongFunction<RegionCapacity> rawBytesForRegion) {
        return regions.stream()
                .filter(r -> r.maxExtentBytes() >= rawBytesForRegion.applyAsLong(r))
                .min(Comparator.comparingLong(RegionCapacity::maxExtentBytes).thenComparing(RegionCapacity::region));
    }
}
