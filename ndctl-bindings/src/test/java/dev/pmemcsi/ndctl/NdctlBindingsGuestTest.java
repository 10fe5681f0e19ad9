package dev.pmemcsi.ndctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.pmemnative.BlockDevice;
import dev.pmemcsi.pmemnative.NativeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import jnr.constants.platform.Errno;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.DisabledIfSystemProperty;

/**
 * libndctl through the Java API on emulated NVDIMMs (a QEMU guest with two labelled 4 GiB
 * NVDIMMs, one region each). Every test leaves the regions as it found them.
 */
// Divides regions into namespaces: only the labelled VM shape can (docs/testing.md, E2E_SHAPE).
@DisabledIfSystemProperty(named = "pmemcsi.e2e.shape", matches = "labelless|e820")
class NdctlBindingsGuestTest {

    private static final long MIB = 1024 * 1024;
    private static final String PREFIX = "bindings-guest-";

    @AfterEach
    void destroyLeftovers() throws NdctlException {
        NdctlContext.configure(ctx -> {
            for (NdctlRegion r : ctx.regions()) {
                for (NdctlNamespace ns : r.namespaces()) {
                    if (ns.size() > 0 && ns.altName().startsWith(PREFIX)) {
                        ns.destroy();
                    }
                }
            }
            return null;
        });
    }

    private static List<RegionInfo> regions() throws NdctlException {
        try (NdctlContext ctx = NdctlContext.open()) {
            List<RegionInfo> result = new ArrayList<>();
            for (NdctlRegion r : ctx.regions()) {
                result.add(r.info());
            }
            return result;
        }
    }

    private static Optional<NamespaceInfo> find(String region, UUID uuid) throws NdctlException {
        return regions().stream().filter(r -> r.devname().equals(region)).flatMap(r -> r.namespaces().stream())
                .filter(ns -> ns.allocated() && ns.uuid().equals(uuid)).findFirst();
    }

    @Test
    void enumeratesBusDimmsAndRegionsOfTheEmulatedNvdimms() throws NdctlException {
        try (NdctlContext ctx = NdctlContext.open()) {
            List<NdctlBus> buses = ctx.buses();
            assertEquals(1, buses.size());
            assertEquals("ACPI.NFIT", buses.get(0).provider());
            List<NdctlDimm> dimms = ctx.dimms();
            assertEquals(2, dimms.size());
            for (NdctlDimm d : dimms) {
                DimmInfo info = d.info();
                assertTrue(info.devname().startsWith("nmem"), info.devname());
                // QEMU's NVDIMMs implement no SMART command and report no failures.
                assertEquals(Optional.empty(), info.smart());
                assertEquals(0, info.failedFlags());
            }
        }
        List<RegionInfo> regions = regions();
        assertEquals(2, regions.size());
        for (RegionInfo r : regions) {
            assertTrue(r.isPmem());
            assertTrue(r.enabled());
            assertEquals(4L << 30, r.sizeBytes());
            assertTrue(r.align() > 0);
            assertEquals(1, r.interleaveWays());
            assertEquals(List.of(), r.badBlocks());
            assertTrue(r.maxExtentBytes() <= r.availableBytes());
            long seeds = r.namespaces().stream().filter(NamespaceInfo::configurationIdle).count();
            assertTrue(seeds >= 1, "every region has an idle seed");
        }
    }

    @Test
    void createsListsAndDestroysEveryModeInBothRegions() throws NdctlException, NativeException {
        for (RegionInfo region : regions()) {
            long before = region.availableBytes();
            for (NamespaceMode mode : List.of(NamespaceMode.FSDAX, NamespaceMode.DEVDAX, NamespaceMode.SECTOR)) {
                UUID uuid = UUID.randomUUID();
                String name = PREFIX + mode.cliName() + "-ümlaut-名前";
                NamespaceSpec spec = NamespaceSpec.of(mode, 64 * MIB, name, uuid);
                NamespaceInfo made = NdctlContext.configure(ctx ->
                        ctx.region(region.devname()).orElseThrow().createNamespace(spec, CreateObserver.NONE).info());
                assertEquals(mode, made.mode());
                assertTrue(made.active());
                assertEquals(64 * MIB, made.sizeBytes());
                assertEquals(name, made.altName());
                assertEquals(uuid, made.uuid());
                assertTrue(made.deviceBytes() > 0 && made.deviceBytes() < 64 * MIB, "device bytes " + made.deviceBytes());
                switch (mode) {
                    case FSDAX -> {
                        assertTrue(made.blockDevice().startsWith("pmem"), made.blockDevice());
                        assertEquals(2 * MIB, made.align());
                        assertEquals(64 * MIB - 2 * MIB, made.deviceBytes());
                    }
                    case SECTOR -> assertTrue(made.blockDevice().matches("pmem\\d+(\\.\\d+)?s"), made.blockDevice());
                    case DEVDAX -> {
                        assertEquals("", made.blockDevice());
                        assertTrue(made.charDevice().startsWith("dax"), made.charDevice());
                    }
                    default -> throw new AssertionError(mode);
                }
                Path dev = Path.of("/dev", mode == NamespaceMode.DEVDAX ? made.charDevice() : made.blockDevice());
                assertTrue(Files.exists(dev), dev + " exists");
                if (mode != NamespaceMode.DEVDAX) {
                    try (BlockDevice bd = BlockDevice.open(dev, true, true)) {
                        assertEquals(made.deviceBytes(), bd.sizeBytes());
                    }
                }
                // A fresh context sees it exactly as the creating one did.
                assertEquals(Optional.of(made), find(region.devname(), uuid));

                NdctlContext.configure(ctx -> {
                    for (NdctlNamespace ns : ctx.region(region.devname()).orElseThrow().namespaces()) {
                        if (ns.size() > 0 && ns.uuid().equals(uuid)) {
                            ns.destroy();
                            assertThrows(IllegalStateException.class, ns::devname, "a destroyed namespace is dead");
                        }
                    }
                    return null;
                });
                assertEquals(Optional.empty(), find(region.devname(), uuid));
                assertFalse(Files.exists(dev), dev + " is gone");
            }
            RegionInfo after = regions().stream().filter(r -> r.devname().equals(region.devname())).findFirst().orElseThrow();
            assertEquals(before, after.availableBytes(), "all label space is back");
        }
    }

    @Test
    void aFailedEnableIsRolledBackAndDoesNotBlockTheRegion() throws NdctlException {
        RegionInfo region = regions().get(0);
        // A 1 GiB page-map alignment cannot be met inside a 1 GiB namespace: the kernel refuses the bind.
        NamespaceSpec impossible = new NamespaceSpec(NamespaceMode.FSDAX, 1L << 30, PREFIX + "impossible",
                UUID.randomUUID(), 1L << 30, 4096);
        NdctlException e = assertThrows(NdctlException.class, () -> NdctlContext.configure(ctx ->
                ctx.region(region.devname()).orElseThrow().createNamespace(impossible, CreateObserver.NONE)));
        assertEquals("ndctl_pfn_enable", e.call());
        assertTrue(e.is(Errno.ENXIO), e.getMessage());
        assertEquals(Errno.ENXIO.intValue(), e.errno());
        assertTrue(e.getMessage().contains("dmesg"), e.getMessage());

        RegionInfo after = regions().get(0);
        assertEquals(region.availableBytes(), after.availableBytes());
        assertTrue(after.namespaces().stream().noneMatch(ns -> ns.allocated() && ns.altName().startsWith(PREFIX)));
        // The region still takes a namespace.
        UUID ok = UUID.randomUUID();
        NdctlContext.configure(ctx -> ctx.region(region.devname()).orElseThrow()
                .createNamespace(NamespaceSpec.of(NamespaceMode.FSDAX, 32 * MIB, PREFIX + "after", ok), CreateObserver.NONE));
        assertTrue(find(region.devname(), ok).orElseThrow().active());
    }

    @Test
    void destroyWipesTheInfoBlockSoTheSameUuidComesBackRaw() throws NdctlException, NativeException {
        RegionInfo region = regions().get(1);
        UUID uuid = UUID.randomUUID();
        NamespaceSpec fsdax = NamespaceSpec.of(NamespaceMode.FSDAX, 32 * MIB, PREFIX + "resurrect", uuid);
        NamespaceInfo first = NdctlContext.configure(ctx ->
                ctx.region(region.devname()).orElseThrow().createNamespace(fsdax, CreateObserver.NONE).info());
        NdctlContext.configure(ctx -> {
            for (NdctlNamespace ns : ctx.region(region.devname()).orElseThrow().namespaces()) {
                if (ns.size() > 0 && ns.uuid().equals(uuid)) {
                    ns.destroy();
                }
            }
            return null;
        });
        NamespaceSpec raw = NamespaceSpec.of(NamespaceMode.RAW, 32 * MIB, PREFIX + "resurrect", uuid);
        NamespaceInfo second = NdctlContext.configure(ctx ->
                ctx.region(region.devname()).orElseThrow().createNamespace(raw, CreateObserver.NONE).info());
        assertEquals(first.resource(), second.resource(), "same place on the media");
        assertEquals(NamespaceMode.RAW, second.mode(), "no stale pfn info block claimed it");
        try (BlockDevice bd = BlockDevice.open(Path.of("/dev", second.blockDevice()), true, true)) {
            assertTrue(bd.isZero(0, 8192));
        }
    }

    @Test
    void contextsAreConfinedAndChangesNeedTheNamespaceLock() throws Exception {
        try (NdctlContext ctx = NdctlContext.open()) {
            NdctlRegion region = ctx.regions().get(0);
            assertThrows(IllegalStateException.class,
                    () -> region.createNamespace(NamespaceSpec.of(NamespaceMode.RAW, 16 * MIB, PREFIX + "x", UUID.randomUUID()),
                            CreateObserver.NONE));
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> CompletableFuture.supplyAsync(region::devname).get());
            assertTrue(e.getCause() instanceof IllegalStateException, String.valueOf(e.getCause()));
            ctx.close();
            assertThrows(IllegalStateException.class, region::devname);
        }
        assertFalse(NdctlContext.holdsNamespaceLock());
    }
}
