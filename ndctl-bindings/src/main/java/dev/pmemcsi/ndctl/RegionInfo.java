package dev.pmemcsi.ndctl;

import java.util.List;

/**
 * A snapshot of one region and its namespaces.
 *
 * @param bus                e.g. {@code ndbus0}
 * @param devname            e.g. {@code region0}
 * @param type               "pmem" or "blk"
 * @param sizeBytes          region size
 * @param availableBytes     free bytes over all free extents
 * @param maxExtentBytes     largest contiguous free extent
 * @param align              the region's allocation alignment (0 when the kernel reports none)
 * @param interleaveWays     DIMMs interleaved in the region
 * @param numaNode           NUMA node, -1 when unknown
 * @param persistenceDomain  where writes become durable
 * @param resource           physical start address
 * @param readOnly           whether the region is read-only
 * @param enabled            whether the region driver is bound
 * @param badBlocks          bad blocks relative to the region start
 * @param namespaces         every namespace, seeds included, sorted by devname
 */
public record RegionInfo(
        String bus,
        String devname,
        String type,
        long sizeBytes,
        long availableBytes,
        long maxExtentBytes,
        long align,
        int interleaveWays,
        int numaNode,
        PersistenceDomain persistenceDomain,
        long resource,
        boolean readOnly,
        boolean enabled,
        List<BadBlock> badBlocks,
        List<NamespaceInfo> namespaces) {

    public RegionInfo {
        badBlocks = List.copyOf(badBlocks);
        namespaces = List.copyOf(namespaces);
    }

    public boolean isPmem() {
        return "pmem".equals(type);
    }
}
