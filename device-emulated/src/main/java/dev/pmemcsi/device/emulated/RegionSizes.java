package dev.pmemcsi.device.emulated;

import dev.pmemcsi.device.Quantity;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The {@code --emulated-regions} list: sizes as Kubernetes quantities, each a whole number of allocation units. */
final class RegionSizes {

    private RegionSizes() {}

    /** A comma-separated list of sizes, each positive and a multiple of {@code alignment}. */
    static List<Long> parseRegionSizes(String spec, long alignment) {
        if (spec == null || spec.isBlank()) {
            throw new IllegalArgumentException("no region sizes given (expected e.g. 4Gi,4Gi)");
        }
        List<Long> sizes = new ArrayList<>();
        for (String part : spec.split(",", -1)) {
            if (part.isBlank()) {
                throw new IllegalArgumentException("empty region size in \"" + spec + "\"");
            }
            long bytes = Quantity.parseBytes(part);
            checkRegionSize(sizes.size(), bytes, alignment);
            sizes.add(bytes);
        }
        return List.copyOf(sizes);
    }

    /** The regions {@code region0..N} of the given sizes, in order, each checked like a flag value. */
    static Map<String, Long> byName(List<Long> sizes, long alignment) {
        if (sizes.isEmpty()) {
            throw new IllegalArgumentException("at least one emulated region is needed");
        }
        Map<String, Long> named = new LinkedHashMap<>();
        for (int i = 0; i < sizes.size(); i++) {
            checkRegionSize(i, sizes.get(i), alignment);
            named.put("region" + i, sizes.get(i));
        }
        return Collections.unmodifiableMap(named);
    }

    static void checkRegionSize(int index, long bytes, long alignment) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("region" + index + ": size must be positive, got " + bytes);
        }
        if (bytes % alignment != 0) {
            long below = bytes / alignment * alignment;
            throw new IllegalArgumentException("region" + index + ": size " + Quantity.format(bytes)
                    + " is not a multiple of the region alignment " + Quantity.format(alignment) + "; use "
                    + (below > 0 ? Quantity.format(below) + " or " : "") + Quantity.format(below + alignment));
        }
    }
}
