package dev.pmemcsi.ndctl;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import jnr.constants.platform.Errno;
import jnr.ffi.LastError;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A region ({@code regionN}): a contiguous range of PMEM that namespaces are carved from. */
public final class NdctlRegion {

    private static final Logger log = LoggerFactory.getLogger(NdctlRegion.class);

    /** {@code NDCTL_PFN_LOC_PMEM}: the page map lives on the namespace itself, not in RAM. */
    static final int PFN_LOC_PMEM = 2;

    private final NdctlContext context;
    private final Pointer region;
    private final String bus;
    private final String provider;

    NdctlRegion(NdctlContext context, Pointer region, String bus, String provider) {
        this.context = context;
        this.region = region;
        this.bus = bus;
        this.provider = provider == null ? "" : provider;
    }

    private LibNdctl lib() {
        context.check();
        return context.lib;
    }

    public String bus() {
        return bus;
    }

    /** The provider of the region's bus, e.g. {@code ACPI.NFIT} or {@code e820}. */
    public String provider() {
        return provider;
    }

    /**
     * Whether the region has namespace labels. Without them (e820, NVDIMMs without a label area) the
     * region holds one namespace over all of it, and the kernel refuses to divide it.
     */
    public boolean isLabelled() {
        return lib().ndctl_region_get_nstype(region) == LibNdctl.ND_DEVICE_NAMESPACE_PMEM;
    }

    public int id() {
        return lib().ndctl_region_get_id(region);
    }

    public String devname() {
        return lib().ndctl_region_get_devname(region);
    }

    public long size() {
        return lib().ndctl_region_get_size(region);
    }

    /** Free bytes over all free extents (read live from sysfs). */
    public long availableSize() throws NdctlException {
        long v = lib().ndctl_region_get_available_size(region);
        if (v == -1L) {
            throw new NdctlException("ndctl_region_get_available_size", devname(), lastErrno(), null);
        }
        return v;
    }

    /** The largest contiguous free extent (read live); falls back to the available size on kernels without it. */
    public long maxAvailableExtent() throws NdctlException {
        long v = lib().ndctl_region_get_max_available_extent(region);
        return v == -1L ? availableSize() : v;
    }

    public long align() {
        return lib().ndctl_region_get_align(region);
    }

    public int interleaveWays() {
        return lib().ndctl_region_get_interleave_ways(region);
    }

    public int numaNode() {
        return lib().ndctl_region_get_numa_node(region);
    }

    public PersistenceDomain persistenceDomain() {
        return PersistenceDomain.fromCode(lib().ndctl_region_get_persistence_domain(region));
    }

    public String type() {
        String t = lib().ndctl_region_get_type_name(region);
        return t == null ? "unknown" : t;
    }

    public boolean isReadOnly() {
        return lib().ndctl_region_get_ro(region) > 0;
    }

    public boolean isEnabled() {
        return lib().ndctl_region_is_enabled(region) > 0;
    }

    public List<BadBlock> badBlocks() {
        LibNdctl lib = lib();
        List<BadBlock> result = new ArrayList<>();
        // The iterator reuses one struct badblock: copy each entry before advancing.
        for (Pointer bb = lib.ndctl_region_get_first_badblock(region); bb != null; bb = lib.ndctl_region_get_next_badblock(region)) {
            result.add(new BadBlock(bb.getLong(0), Integer.toUnsignedLong(bb.getInt(8))));
        }
        return result;
    }

    /** Every namespace of the region, seeds included, sorted by ID. */
    public List<NdctlNamespace> namespaces() {
        LibNdctl lib = lib();
        List<NdctlNamespace> result = new ArrayList<>();
        for (Pointer ns = lib.ndctl_namespace_get_first(region); ns != null; ns = lib.ndctl_namespace_get_next(ns)) {
            result.add(new NdctlNamespace(context, this, ns));
        }
        result.sort(Comparator.comparingInt(NdctlNamespace::id));
        return result;
    }

    public RegionInfo info() throws NdctlException {
        List<NamespaceInfo> namespaces = new ArrayList<>();
        for (NdctlNamespace ns : namespaces()) {
            namespaces.add(ns.info());
        }
        return new RegionInfo(bus, devname(), type(), size(), availableSize(), maxAvailableExtent(), align(),
                interleaveWays(), numaNode(), persistenceDomain(), lib().ndctl_region_get_resource(region),
                isReadOnly(), isEnabled(), badBlocks(), namespaces, provider, isLabelled());
    }

    /**
     * Creates a namespace from the region's seeds and enables it, in the order the kernel requires:
     * namespace UUID before size, then the pfn/dax/btt seed claims the namespace and is enabled. If
     * a step fails after label space was allocated, the namespace is rolled back to an idle seed, so
     * that a failed create never blocks the region.
     *
     * <p>Only inside {@link NdctlContext#configure}.
     */
    public NdctlNamespace createNamespace(NamespaceSpec spec, CreateObserver observer) throws NdctlException {
        context.checkConfiguring();
        LibNdctl lib = context.lib;
        String regionName = devname();
        Pointer ns = lib.ndctl_region_get_namespace_seed(region);
        if (ns == null) {
            throw new NdctlException("ndctl_region_get_namespace_seed", regionName, Errno.ENXIO,
                    "the region offers no namespace seed (disabled, read-only, or without label support)");
        }
        String nsName = lib.ndctl_namespace_get_devname(ns);
        if (lib.ndctl_namespace_is_configuration_idle(ns) != 1) {
            throw new NdctlException("ndctl_namespace_is_configuration_idle", nsName, Errno.EBUSY,
                    "the region's seed namespace is half configured by an interrupted create; destroy it first");
        }
        boolean allocated = false;
        Pointer claim = null;
        try {
            check(lib.ndctl_namespace_set_uuid(ns, Uuids.toBytes(spec.uuid())), "ndctl_namespace_set_uuid", nsName);
            observer.completed(CreateStep.SET_UUID, nsName);
            check(lib.ndctl_namespace_set_alt_name(ns, spec.altNameBytes()), "ndctl_namespace_set_alt_name", nsName);
            observer.completed(CreateStep.SET_NAME, nsName);
            check(lib.ndctl_namespace_set_size(ns, spec.sizeBytes()), "ndctl_namespace_set_size", nsName);
            allocated = true;
            observer.completed(CreateStep.SET_SIZE, nsName);
            check(lib.ndctl_namespace_set_enforce_mode(ns, spec.mode().code()), "ndctl_namespace_set_enforce_mode", nsName);
            observer.completed(CreateStep.SET_ENFORCE_MODE, nsName);
            claim = claimSeed(spec.mode(), regionName);
            enable(spec, ns, nsName, claim, observer);
            observer.completed(CreateStep.ENABLED, nsName);
        } catch (NdctlException | RuntimeException e) {
            if (allocated) {
                rollback(ns, nsName, spec.mode(), claim, e);
            }
            throw e;
        }
        log.info("created {} namespace {} ({} bytes, name {}) in {}", spec.mode().cliName(), nsName,
                spec.sizeBytes(), spec.altName(), regionName);
        return new NdctlNamespace(context, this, ns);
    }

    /** The seed of the device that claims a namespace in {@code mode}; none for a raw namespace. */
    private Pointer claimSeed(NamespaceMode mode, String regionName) throws NdctlException {
        LibNdctl lib = context.lib;
        return switch (mode) {
            case FSDAX -> seed(lib.ndctl_region_get_pfn_seed(region), "ndctl_region_get_pfn_seed", regionName);
            case DEVDAX -> seed(lib.ndctl_region_get_dax_seed(region), "ndctl_region_get_dax_seed", regionName);
            case SECTOR -> seed(lib.ndctl_region_get_btt_seed(region), "ndctl_region_get_btt_seed", regionName);
            case RAW -> null;
            default -> throw new IllegalArgumentException("mode " + mode);
        };
    }

    /** Configures the claim (a fresh device UUID, then its mode's settings), attaches it and enables it. */
    private void enable(NamespaceSpec spec, Pointer ns, String nsName, Pointer claim, CreateObserver observer)
            throws NdctlException {
        LibNdctl lib = context.lib;
        byte[] deviceUuid = Uuids.toBytes(UUID.randomUUID());
        switch (spec.mode()) {
            case FSDAX -> {
                String pfn = lib.ndctl_pfn_get_devname(claim);
                check(lib.ndctl_pfn_set_uuid(claim, deviceUuid), "ndctl_pfn_set_uuid", pfn);
                check(lib.ndctl_pfn_set_location(claim, PFN_LOC_PMEM), "ndctl_pfn_set_location", pfn);
                if (lib.ndctl_pfn_has_align(claim) > 0) {
                    check(lib.ndctl_pfn_set_align(claim, spec.align()), "ndctl_pfn_set_align", pfn);
                }
                check(lib.ndctl_pfn_set_namespace(claim, ns), "ndctl_pfn_set_namespace", pfn);
                observer.completed(CreateStep.CLAIMED, nsName);
                enabled(lib.ndctl_pfn_enable(claim), "ndctl_pfn_enable", pfn);
            }
            case DEVDAX -> {
                String dax = lib.ndctl_dax_get_devname(claim);
                check(lib.ndctl_dax_set_uuid(claim, deviceUuid), "ndctl_dax_set_uuid", dax);
                check(lib.ndctl_dax_set_location(claim, PFN_LOC_PMEM), "ndctl_dax_set_location", dax);
                check(lib.ndctl_dax_set_align(claim, spec.align()), "ndctl_dax_set_align", dax);
                check(lib.ndctl_dax_set_namespace(claim, ns), "ndctl_dax_set_namespace", dax);
                observer.completed(CreateStep.CLAIMED, nsName);
                enabled(lib.ndctl_dax_enable(claim), "ndctl_dax_enable", dax);
            }
            case SECTOR -> {
                String btt = lib.ndctl_btt_get_devname(claim);
                check(lib.ndctl_btt_set_uuid(claim, deviceUuid), "ndctl_btt_set_uuid", btt);
                check(lib.ndctl_btt_set_sector_size(claim, spec.sectorSize()), "ndctl_btt_set_sector_size", btt);
                check(lib.ndctl_btt_set_namespace(claim, ns), "ndctl_btt_set_namespace", btt);
                observer.completed(CreateStep.CLAIMED, nsName);
                enabled(lib.ndctl_btt_enable(claim), "ndctl_btt_enable", btt);
            }
            case RAW -> enabled(lib.ndctl_namespace_enable(ns), "ndctl_namespace_enable", nsName);
            default -> throw new IllegalArgumentException("mode " + spec.mode());
        }
    }

    private static void enabled(int rc, String call, String devname) throws NdctlException {
        if (rc < 0) {
            throw NdctlException.enableFailed(call, devname, rc);
        }
    }

    /**
     * Undoes a create that allocated label space but did not finish: release the claim of the
     * pfn/dax/btt seed, drop the enforced mode, and delete the namespace, which frees its labels.
     * Leaves the region with an idle seed again.
     */
    private void rollback(Pointer ns, String nsName, NamespaceMode mode, Pointer claim, Exception failure) {
        LibNdctl lib = context.lib;
        int rc = 0;
        if (claim != null) {
            rc = switch (mode) {
                case FSDAX -> lib.ndctl_pfn_set_namespace(claim, null);
                case DEVDAX -> lib.ndctl_dax_set_namespace(claim, null);
                case SECTOR -> lib.ndctl_btt_set_namespace(claim, null);
                default -> 0;
            };
        }
        if (mode == NamespaceMode.RAW) {
            lib.ndctl_namespace_disable_invalidate(ns);
        }
        lib.ndctl_namespace_set_enforce_mode(ns, NamespaceMode.RAW.code());
        int del = lib.ndctl_namespace_delete(ns);
        if (rc < 0 || del < 0) {
            NdctlException e = NdctlException.returned("ndctl_namespace_delete", nsName, del < 0 ? del : rc,
                    "rollback of the failed create did not finish; the namespace must be destroyed");
            failure.addSuppressed(e);
            log.error("{}", e.getMessage());
        } else {
            log.warn("rolled back namespace {} after a failed create: {}", nsName, failure.getMessage());
        }
    }

    /** The region's pfn seed, read afresh: it moves on after every enable. */
    Pointer pfnSeed() throws NdctlException {
        return seed(context.lib.ndctl_region_get_pfn_seed(region), "ndctl_region_get_pfn_seed", devname());
    }

    private static Pointer seed(Pointer seed, String call, String region) throws NdctlException {
        if (seed == null) {
            throw new NdctlException(call, region, Errno.ENXIO, "the region has no such seed (driver module not loaded?)");
        }
        return seed;
    }

    static void check(int rc, String call, String object) throws NdctlException {
        if (rc < 0) {
            throw NdctlException.returned(call, object, rc, null);
        }
    }

    private int lastErrno() {
        int e = LastError.getLastError(Runtime.getRuntime(context.lib));
        return e == 0 ? Errno.ENXIO.intValue() : e;
    }
}
