package dev.pmemcsi.device.ndctl;

import dev.pmemcsi.ndctl.BadBlock;
import dev.pmemcsi.ndctl.DimmInfo;
import dev.pmemcsi.ndctl.NamespaceInfo;
import dev.pmemcsi.ndctl.NamespaceMode;
import dev.pmemcsi.ndctl.NamespaceSpec;
import dev.pmemcsi.ndctl.NdctlException;
import dev.pmemcsi.ndctl.PersistenceDomain;
import dev.pmemcsi.ndctl.RegionInfo;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Predicate;
import jnr.constants.platform.Errno;

/**
 * libndctl as recorded on QEMU NVDIMMs (labels, 16 MiB region alignment, one DIMM per region, no
 * SMART, no bad blocks), kept in memory. Namespaces are placed at the lowest free address like
 * the kernel does; device sizes follow the page-map and BTT sizes measured on real namespaces.
 */
final class FakeNamespaceBackend implements NamespaceBackend {

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
            return new RegionInfo("ndbus0", name, "pmem", size, size - used(), maxExtent(), align, ways, 0,
                    PersistenceDomain.UNKNOWN, resource, false, true, badBlocks, namespaces);
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

    FakeNamespaceBackend withQemuRegions() {
        regions.add(new Region("region0", 4 * GIB, 16 * MIB, 1, 0x100000000L));
        regions.add(new Region("region1", 4 * GIB, 16 * MIB, 1, 0x200000000L));
        dimms.add(new DimmInfo("ndbus0", "nmem0", 1, true, Optional.empty(), 0));
        dimms.add(new DimmInfo("ndbus0", "nmem1", 2, true, Optional.empty(), 0));
        return this;
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
        NamespaceInfo ns = new NamespaceInfo(region, devname, altName, uuid, mode, size, res, active, false, bdev,
                mode == NamespaceMode.DEVDAX && active ? devname.replace("namespace", "dax") : "",
                active ? deviceBytes(mode, size) : 0, mode == NamespaceMode.FSDAX ? 2 * MIB : 0, List.of());
        r.namespaces.add(ns);
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
    public List<NamespaceInfo> destroy(Predicate<NamespaceInfo> which) throws NdctlException {
        List<NamespaceInfo> destroyed = new ArrayList<>();
        for (Region r : regions) {
            for (NamespaceInfo ns : List.copyOf(r.namespaces)) {
                if (ns.allocated() && which.test(ns)) {
                    if (busy.contains(ns.devname())) {
                        throw new NdctlException("ndctl_namespace_disable_safe", ns.devname(), Errno.EBUSY, null);
                    }
                    calls.add("destroy " + ns.devname());
                    r.namespaces.remove(ns);
                    destroyed.add(ns);
                }
            }
        }
        return destroyed;
    }
}
