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
 * @param provider           the bus provider: {@code ACPI.NFIT} for NVDIMMs, {@code e820} for legacy
 *                           PMEM ({@code memmap=}), {@code CXL} for CXL memory
 * @param labelled           whether the region has namespace labels and so can hold many namespaces;
 *                           a label-less region (e820, NVDIMMs without a label area) holds exactly one,
 *                           over the whole region, and cannot be divided
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
        List<NamespaceInfo> namespaces,
        String provider,
        boolean labelled) {

    /** The provider of NVDIMMs that the platform describes in its ACPI NFIT. */
    public static final String NFIT = "ACPI.NFIT";

    public RegionInfo {
        badBlocks = List.copyOf(badBlocks);
        namespaces = List.copyOf(namespaces);
        provider = provider == null ? "" : provider;
    }

    /** A labelled region of NVDIMMs on an ACPI NFIT bus, the common case. */
    public RegionInfo(String bus, String devname, String type, long sizeBytes, long availableBytes, long maxExtentBytes,
            long align, int interleaveWays, int numaNode, PersistenceDomain persistenceDomain, long resource,
            boolean readOnly, boolean enabled, List<BadBlock> badBlocks, List<NamespaceInfo> namespaces) {
        this(bus, devname, type, sizeBytes, availableBytes, maxExtentBytes, align, interleaveWays, numaNode,
                persistenceDomain, resource, readOnly, enabled, badBlocks, namespaces, NFIT, true);
    }

    public boolean isPmem() {
        return "pmem".equals(type);
    }
}
