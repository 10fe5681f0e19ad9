package dev.pmemcsi.device.ndctl;

import dev.pmemcsi.ndctl.BadBlock;
import dev.pmemcsi.ndctl.DimmInfo;
import dev.pmemcsi.ndctl.NamespaceInfo;
import dev.pmemcsi.ndctl.NamespaceMode;
import dev.pmemcsi.ndctl.NamespaceSpec;
import dev.pmemcsi.ndctl.NdctlException;
import dev.pmemcsi.ndctl.PersistenceDomain;
import dev.pmemcsi.ndctl.RawContentCheck;
import dev.pmemcsi.ndctl.RawEraser;
import dev.pmemcsi.ndctl.RegionInfo;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Predicate;
import jnr.constants.platform.Errno;

/**
 * libndctl as recorded on QEMU NVDIMMs (labels, 16 MiB region alignment, one DIMM per region, no
 * SMART, no bad blocks), kept in memory. Namespaces are placed at the lowest free address like
 * the kernel does; device sizes follow the page-map and BTT sizes measured on real namespaces.
 * Label-less regions (QEMU NVDIMMs without label-size, or e820) hold one raw namespace over the
 * whole region. An fsdax namespace leaves its info block "on the media": enabling it again brings
 * it back fsdax with the same pfn UUID, as the kernel does.
 */
final class FakeNamespaceBackend implements PoolNamespaceBackend {

    static final long MIB = 1024 * 1024;
    static final long GIB = 1024 * MIB;

    final class Region {
        final String name;
        final long size;
        final long align;
        final int ways;
        final long resource;
        final List<NamespaceInfo> namespaces = new ArrayList<>();
        final List<BadBlock> badBlocks = new ArrayList<>();
        int nextId;
        boolean labelled = true;
        boolean enabled = true;
        String provider = RegionInfo.NFIT;
        /** The region's bus; null: ndbus0 for labelled regions, ndbus1 for label-less ones. */
        String bus;

        Region(String name, long size, long align, int ways, long resource) {
            this.name = name;
            this.size = size;
            this.align = align;
            this.ways = ways;
            this.resource = resource;
        }

        long used() {
            return namespaces.stream().mapToLong(NamespaceInfo::sizeBytes).sum();
        }

        long lowestFree(long bytes) {
            long cursor = resource;
            List<NamespaceInfo> sorted = new ArrayList<>(namespaces);
            sorted.sort((a, b) -> Long.compare(a.resource(), b.resource()));
            for (NamespaceInfo ns : sorted) {
                if (ns.resource() - cursor >= bytes) {
                    return cursor;
                }
                cursor = ns.resource() + ns.sizeBytes();
            }
            return resource + size - cursor >= bytes ? cursor : -1;
        }

        long maxExtent() {
            long cursor = resource;
            long max = 0;
            List<NamespaceInfo> sorted = new ArrayList<>(namespaces);
            sorted.sort((a, b) -> Long.compare(a.resource(), b.resource()));
            for (NamespaceInfo ns : sorted) {
                max = Math.max(max, ns.resource() - cursor);
                cursor = ns.resource() + ns.sizeBytes();
            }
            return Math.max(max, resource + size - cursor);
        }

        RegionInfo info() {
            // A label-less region reports no free space, whatever its one namespace covers.
            // A disabled region shows no namespaces: the kernel has not read its labels.
            return new RegionInfo(bus != null ? bus : labelled ? "ndbus0" : "ndbus1", name, "pmem", size,
                    labelled ? size - used() : 0, labelled ? maxExtent() : 0, align, ways, 0, PersistenceDomain.UNKNOWN,
                    resource, false, enabled, badBlocks, enabled ? namespaces : List.of(), provider, labelled);
        }
    }

    final List<Region> regions = new ArrayList<>();
    final List<DimmInfo> dimms = new ArrayList<>();
    final List<String> calls = new ArrayList<>();
    boolean noBus;
    NdctlException loadFailure;
    /** Namespaces the next destroy refuses with -EBUSY from disable_safe (mounted). */
    final List<String> busy = new ArrayList<>();
    /** Bytes the next enabled device is short of what the measurements predict. */
    long deviceShortfall;
    /** The pfn UUID in the info block of each namespace (by devname): what an enable brings back. */
    final Map<String, UUID> infoBlocks = new HashMap<>();
    /** Namespaces whose pfn enable fails (-ENXIO) in a reconfiguration. */
    final List<String> failingPfnEnable = new ArrayList<>();

    FakeNamespaceBackend withQemuRegions() {
        regions.add(new Region("region0", 4 * GIB, 16 * MIB, 1, 0x100000000L));
        regions.add(new Region("region1", 4 * GIB, 16 * MIB, 1, 0x200000000L));
        dimms.add(new DimmInfo("ndbus0", "nmem0", 1, true, Optional.empty(), 0));
        dimms.add(new DimmInfo("ndbus0", "nmem1", 2, true, Optional.empty(), 0));
        return this;
    }

    /**
     * A labelled PMEM region of {@code size} on a CXL nd bus of its own (ndbus{@code N}), as the
     * kernel shows a region that {@code cxl create-region -t pmem} assembled.
     */
    FakeNamespaceBackend withCxlRegion(long size) {
        int index = regions.size();
        Region r = new Region("region" + index, size, 16 * MIB, 1, 0x1d0000000L + index * 0x100000000L);
        r.provider = "CXL";
        r.bus = "ndbus" + index;
        regions.add(r);
        dimms.add(new DimmInfo(r.bus, "nmem" + dimms.size(), 0, true, Optional.empty(), 0));
        return this;
    }

    /** Label-less regions of {@code size}, each with its one raw namespace, as QEMU NVDIMMs without labels or e820 show them. */
    FakeNamespaceBackend withLabellessRegions(String provider, int count, long size) {
        for (int i = 0; i < count; i++) {
            int index = regions.size();
            Region r = new Region("region" + index, size, 16 * MIB, 1, 0x100000000L + index * size);
            r.labelled = false;
            r.provider = provider;
            regions.add(r);
            r.nextId = 1;
            r.namespaces.add(new NamespaceInfo(r.name, "namespace" + index + ".0", "", NamespaceInfo.NIL,
                    provider.equals("e820") ? NamespaceMode.FSDAX : NamespaceMode.RAW, size, r.resource, true, false,
                    "pmem" + index, "", size, 0, List.of()));
        }
        return this;
    }

    NamespaceInfo namespace(String devname) {
        return allNamespaces().stream().filter(ns -> ns.devname().equals(devname)).findFirst().orElseThrow();
    }

    private void replace(NamespaceInfo old, NamespaceInfo now) {
        Region r = region(old.region());
        r.namespaces.set(r.namespaces.indexOf(old), now);
    }

    /** As {@code ndctl disable-namespace}: the info block stays on the media. */
    void disable(String devname) {
        NamespaceInfo ns = namespace(devname);
        replace(ns, new NamespaceInfo(ns.region(), ns.devname(), ns.altName(), ns.uuid(), NamespaceMode.RAW,
                ns.sizeBytes(), ns.resource(), false, false, "", "", 0, 0, List.of()));
    }

    /** What a create interrupted after set_size leaves: allocated, inactive, no info block. */
    NamespaceInfo halfMade(String region, String altName, UUID uuid, long size) {
        NamespaceInfo ns = add(region, altName, uuid, NamespaceMode.RAW, size, false);
        infoBlocks.remove(ns.devname());
        return ns;
    }

    Region region(String name) {
        return regions.stream().filter(r -> r.name.equals(name)).findFirst().orElseThrow();
    }

    /** Adds a namespace as another tool would, e.g. the ndctl CLI. */
    NamespaceInfo add(String region, String altName, UUID uuid, NamespaceMode mode, long size, boolean active) {
        Region r = region(region);
        long res = r.lowestFree(size);
        String devname = "namespace" + regions.indexOf(r) + "." + r.nextId++;
        // namespaceX.0 is pmemX, namespaceX.Y is pmemX.Y; sector devices add "s".
        String pmem = devname.replace("namespace", "pmem").replaceAll("\\.0$", "");
        String bdev = !active ? "" : mode == NamespaceMode.SECTOR ? pmem + "s" : mode == NamespaceMode.DEVDAX ? "" : pmem;
        UUID pfn = mode == NamespaceMode.FSDAX && active ? UUID.randomUUID() : NamespaceInfo.NIL;
        NamespaceInfo ns = new NamespaceInfo(region, devname, altName, uuid, mode, size, res, active, false, bdev,
                mode == NamespaceMode.DEVDAX && active ? devname.replace("namespace", "dax") : "",
                active ? deviceBytes(mode, size) : 0, mode == NamespaceMode.FSDAX ? 2 * MIB : 0, List.of(), pfn);
        r.namespaces.add(ns);
        if (!pfn.equals(NamespaceInfo.NIL)) {
            infoBlocks.put(devname, pfn);
        }
        return ns;
    }

    /** Usable sizes as measured: page map of 64 B per 4 KiB page plus the info block, in 2 MiB units. */
    long deviceBytes(NamespaceMode mode, long size) {
        return switch (mode) {
            case FSDAX, DEVDAX -> size - roundUp(8192 + 64 * ((size - 8192) / 4096), 2 * MIB) - deviceShortfall;
            case SECTOR -> size - (size / 4096 * 4) - 1_310_720 - deviceShortfall;
            default -> size;
        };
    }

    private static long roundUp(long v, long a) {
        return (v + a - 1) / a * a;
    }

    List<NamespaceInfo> allNamespaces() {
        List<NamespaceInfo> all = new ArrayList<>();
        regions.forEach(r -> all.addAll(r.namespaces));
        return all;
    }

    @Override
    public void load() throws NdctlException {
        if (loadFailure != null) {
            throw loadFailure;
        }
    }

    @Override
    public List<String> buses() {
        return noBus ? List.of() : List.of("ndbus0");
    }

    @Override
    public List<RegionInfo> regions() {
        calls.add("regions");
        return noBus ? List.of() : regions.stream().map(Region::info).toList();
    }

    @Override
    public List<DimmInfo> dimms() {
        return dimms;
    }

    @Override
    public NamespaceInfo create(String region, NamespaceSpec spec, Predicate<NamespaceInfo> leftover) throws NdctlException {
        calls.add("create " + region + " " + spec.mode() + " " + spec.sizeBytes());
        destroy(ns -> !ns.active() && leftover.test(ns));
        Region r = region(region);
        if (spec.sizeBytes() % (r.align * r.ways) != 0) {
            throw new NdctlException("ndctl_namespace_set_size", "namespace0.0", Errno.EINVAL, null);
        }
        if (r.lowestFree(spec.sizeBytes()) < 0) {
            throw new NdctlException("ndctl_namespace_set_size", "namespace0.0", Errno.ENOSPC, null);
        }
        return add(region, spec.altName(), spec.uuid(), spec.mode(), spec.sizeBytes(), true);
    }

    @Override
    public void enable(String region, String devname, Predicate<NamespaceInfo> which) throws NdctlException {
        NamespaceInfo ns = still(devname, which);
        calls.add("enable " + devname);
        if (ns.active()) {
            return;
        }
        replace(ns, comeBack(ns));
    }

    /** The namespace enabled as the kernel would: fsdax from its info block, else raw. */
    private NamespaceInfo comeBack(NamespaceInfo ns) {
        String bdev = ns.devname().replace("namespace", "pmem").replaceAll("\\.0$", "");
        UUID pfn = infoBlocks.get(ns.devname());
        if (pfn != null) {
            return new NamespaceInfo(ns.region(), ns.devname(), ns.altName(), ns.uuid(), NamespaceMode.FSDAX,
                    ns.sizeBytes(), ns.resource(), true, false, bdev, "", deviceBytes(NamespaceMode.FSDAX, ns.sizeBytes()),
                    2 * MIB, List.of(), pfn);
        }
        return new NamespaceInfo(ns.region(), ns.devname(), ns.altName(), ns.uuid(), NamespaceMode.RAW, ns.sizeBytes(),
                ns.resource(), true, false, bdev, "", ns.sizeBytes(), 0, List.of());
    }

    @Override
    public Optional<String> reconfigureToFsdax(String region, String devname, Predicate<NamespaceInfo> which,
            UUID deviceUuid, long align, RawContentCheck check) throws NdctlException {
        NamespaceInfo ns = still(devname, which);
        if (busy.contains(devname)) {
            throw new NdctlException("ndctl_namespace_disable_safe", devname, Errno.EBUSY, "the device is mounted or open");
        }
        calls.add("reconfigure " + devname);
        String bdev = ns.devname().replace("namespace", "pmem").replaceAll("\\.0$", "");
        Optional<String> refusal = check.refusal(Path.of("/dev", bdev));
        if (refusal.isPresent()) {
            return refusal;
        }
        infoBlocks.remove(devname);
        if (failingPfnEnable.contains(devname)) {
            replace(ns, comeBack(ns));
            throw new NdctlException("ndctl_pfn_enable", "pfn0.0", Errno.ENXIO, null);
        }
        infoBlocks.put(devname, deviceUuid);
        replace(ns, new NamespaceInfo(ns.region(), ns.devname(), ns.altName(), ns.uuid(), NamespaceMode.FSDAX,
                ns.sizeBytes(), ns.resource(), true, false, bdev, "", deviceBytes(NamespaceMode.FSDAX, ns.sizeBytes()),
                align, List.of(), deviceUuid));
        return Optional.empty();
    }

    private NamespaceInfo still(String devname, Predicate<NamespaceInfo> which) throws NdctlException {
        Optional<NamespaceInfo> ns = allNamespaces().stream().filter(n -> n.devname().equals(devname)).findFirst();
        if (ns.isEmpty()) {
            throw new NdctlException("ndctl_namespace_get_first", devname, Errno.ENODEV, null);
        }
        if (!which.test(ns.get())) {
            throw new NdctlException("ndctl_namespace_get_first", devname, Errno.EAGAIN, "changed");
        }
        return ns.get();
    }

    @Override
    public List<NamespaceInfo> destroy(Predicate<NamespaceInfo> which) throws NdctlException {
        return destroy(which, RawEraser.NONE);
    }

    @Override
    public List<NamespaceInfo> destroy(Predicate<NamespaceInfo> which, RawEraser eraser) throws NdctlException {
        List<NamespaceInfo> destroyed = new ArrayList<>();
        for (Region r : regions) {
            // libndctl sees no namespace in a disabled region.
            for (NamespaceInfo ns : r.enabled ? List.copyOf(r.namespaces) : List.<NamespaceInfo>of()) {
                if (ns.allocated() && which.test(ns)) {
                    if (busy.contains(ns.devname())) {
                        throw new NdctlException("ndctl_namespace_disable_safe", ns.devname(), Errno.EBUSY, null);
                    }
                    calls.add("destroy " + ns.devname());
                    if (ns.active()) {
                        eraser.erase(Path.of("/dev", ns.devname().replace("namespace", "pmem").replaceAll("\\.0$", "")));
                    }
                    r.namespaces.remove(ns);
                    infoBlocks.remove(ns.devname());
                    destroyed.add(ns);
                }
            }
        }
        return destroyed;
    }
}
