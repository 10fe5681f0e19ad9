package dev.pmemcsi.device.ndctl;

import dev.pmemcsi.device.VolumeEraser;
import static dev.pmemcsi.device.ndctl.FakeNamespaceBackend.GIB;
import static dev.pmemcsi.device.ndctl.FakeNamespaceBackend.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.PoolDevice;
import dev.pmemcsi.device.PoolDevices.Preparation;
import dev.pmemcsi.device.PoolDevices.SkippedRegion;
import dev.pmemcsi.device.VolumeAccess;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.ndctl.NamespaceInfo;
import dev.pmemcsi.ndctl.NamespaceMode;
import dev.pmemcsi.ndctl.NdctlException;
import dev.pmemcsi.ndctl.RawContentCheck;
import dev.pmemcsi.ndctl.RegionInfo;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import jnr.constants.platform.Errno;
import org.junit.jupiter.api.Test;

class NdctlPoolDevicesTest {

    private static final String DRIVER = "pmem-csi.dev";
    private static final String POOL = "pmem-csi.dev-lvm";

    /** What the content check finds on each raw device; absent: nothing. */
    private final Map<Path, String> signatures = new HashMap<>();
    private final List<Path> checked = new ArrayList<>();
    private final RawContentCheck content = device -> {
        checked.add(device);
        return Optional.ofNullable(signatures.get(device)).map(sig -> device + " holds " + sig);
    };
    private final PoolNamespaces marks = new PoolNamespaces(DRIVER);
    private final List<Path> wiped = new ArrayList<>();
    private final VolumeEraser eraser = new VolumeEraser() {
        @Override
        public void erase(String id, Path device) {
            throw new AssertionError("a pool device is never erased");
        }

        @Override
        public void wipeSignatures(String id, Path device) {
            wiped.add(device);
        }
    };

    private NdctlPoolDevices pool(FakeNamespaceBackend backend, int percentage) {
        return new NdctlPoolDevices(DRIVER, backend, percentage, content, eraser);
    }

    private static long fsdaxUsable(long size) {
        return CapacityMath.usableBytes(dev.pmemcsi.device.VolumeMode.FSDAX, size);
    }

    private static List<String> changes(FakeNamespaceBackend backend) {
        return backend.calls.stream().filter(c -> !c.equals("regions")).toList();
    }

    // ---- labelled regions

    @Test
    void labelledRegionsGetANamedFsdaxNamespaceOfThePercentage() throws DeviceException {
        FakeNamespaceBackend backend = new FakeNamespaceBackend().withQemuRegions();
        Preparation p = pool(backend, 50).prepare();
        assertEquals(List.of(), p.skipped());
        assertEquals(List.of(
                new PoolDevice("region0", "ndbus0", 0, "/dev/pmem0", fsdaxUsable(2 * GIB), "nvdimm"),
                new PoolDevice("region1", "ndbus0", 0, "/dev/pmem1", fsdaxUsable(2 * GIB), "nvdimm")), p.devices());
        for (NamespaceInfo ns : backend.allNamespaces()) {
            assertEquals(POOL, ns.altName());
            assertEquals(2 * GIB, ns.sizeBytes());
            assertEquals(NamespaceMode.FSDAX, ns.mode());
            assertTrue(marks.isMarked(ns.uuid()), ns.uuid().toString());
        }
        assertTrue(!backend.allNamespaces().get(0).uuid().equals(backend.allNamespaces().get(1).uuid()),
                "namespace UUIDs are unique on a bus");
        assertEquals(List.of(Path.of("/dev/pmem0"), Path.of("/dev/pmem1")), wiped, "new pool devices start clean");
    }

    @Test
    void aSecondPrepareChangesNothingAndFindsTheSameDevices() throws DeviceException {
        FakeNamespaceBackend backend = new FakeNamespaceBackend().withQemuRegions();
        Preparation first = pool(backend, 50).prepare();
        backend.calls.clear();
        wiped.clear();
        // A restarted driver, with another percentage: the existing pool namespaces are kept as they are.
        Preparation second = pool(backend, 80).prepare();
        assertEquals(first, second);
        assertEquals(List.of(), changes(backend));
        assertEquals(List.of(), wiped, "nothing is cleared on a device that already was the pool's");
    }

    @Test
    void thePercentageIsAlignedDownToTheAllocationUnit() throws DeviceException {
        FakeNamespaceBackend backend = new FakeNamespaceBackend().withQemuRegions();
        pool(backend, 33).prepare();
        // 33% of 4 GiB is 1351.68 MiB; the unit is 16 MiB.
        assertEquals(1344 * MIB, backend.allNamespaces().get(0).sizeBytes());
        FakeNamespaceBackend whole = new FakeNamespaceBackend().withQemuRegions();
        pool(whole, 100).prepare();
        assertEquals(4 * GIB, whole.allNamespaces().get(0).sizeBytes());
    }

    @Test
    void aPercentageBelowTheSmallestNamespaceSkipsTheRegion() throws DeviceException {
        FakeNamespaceBackend backend = new FakeNamespaceBackend();
        backend.regions.add(backend.new Region("region0", GIB, 16 * MIB, 1, 0x100000000L));
        Preparation p = pool(backend, 1).prepare();
        assertEquals(List.of(), p.devices());
        assertEquals(1, p.skipped().size());
        assertTrue(p.skipped().get(0).reason().contains("smallest fsdax namespace"), p.skipped().get(0).reason());
        assertEquals(List.of(), backend.allNamespaces());
    }

    @Test
    void percentagesOutsideOneToHundredAreRefused() {
        FakeNamespaceBackend backend = new FakeNamespaceBackend().withQemuRegions();
        assertThrows(IllegalArgumentException.class, () -> pool(backend, 0));
        assertThrows(IllegalArgumentException.class, () -> pool(backend, 101));
    }

    @Test
    void regionsWithForeignNamespacesOrVolumesAreSkippedAndNeverTouched() throws DeviceException {
        FakeNamespaceBackend backend = new FakeNamespaceBackend().withQemuRegions();
        backend.regions.add(backend.new Region("region2", 4 * GIB, 16 * MIB, 1, 0x300000000L));
        backend.regions.add(backend.new Region("region3", 4 * GIB, 16 * MIB, 1, 0x400000000L));
        String volume = VolumeIds.fromName("pvc-direct");
        NamespaceInfo ofVolume = backend.add("region0", volume,
                new VolumeNamespaces(DRIVER).uuidFor(volume, true, 0, VolumeAccess.UNRECORDED), NamespaceMode.FSDAX,
                64 * MIB, true);
        NamespaceInfo cli = backend.add("region1", "made-by-hand", UUID.randomUUID(), NamespaceMode.FSDAX, GIB, true);
        // The pool's name without its mark, and the mark of another driver name: both are someone else's.
        NamespaceInfo impostor = backend.add("region2", POOL, UUID.randomUUID(), NamespaceMode.FSDAX, GIB, true);
        NamespaceInfo otherDriver = backend.add("region3", POOL, new PoolNamespaces("other.example").newUuid(),
                NamespaceMode.FSDAX, GIB, true);
        List<NamespaceInfo> before = backend.allNamespaces();

        Preparation p = pool(backend, 50).prepare();
        assertEquals(List.of(), p.devices());
        assertEquals(List.of("region0", "region1", "region2", "region3"),
                p.skipped().stream().map(SkippedRegion::region).toList());
        assertTrue(p.skipped().get(0).reason().contains("direct-mode volumes") && p.skipped().get(0).reason().contains(volume),
                p.skipped().get(0).reason());
        assertTrue(p.skipped().get(1).reason().contains("made-by-hand"), p.skipped().get(1).reason());
        assertTrue(p.skipped().get(2).reason().contains("not this driver's"), p.skipped().get(2).reason());
        assertTrue(p.skipped().get(3).reason().contains("not this driver's"), p.skipped().get(3).reason());
        assertEquals(before, backend.allNamespaces());
        assertEquals(List.of(), changes(backend));
        assertEquals(List.of(ofVolume, cli, impostor, otherDriver), backend.allNamespaces());
    }

    @Test
    void aCreateInterruptedBeforeThePfnWasEnabledIsCompletedInPlace() throws DeviceException {
        FakeNamespaceBackend backend = new FakeNamespaceBackend().withQemuRegions();
        NamespaceInfo half = backend.halfMade("region0", POOL, marks.newUuid(), 2 * GIB);
        Preparation p = pool(backend, 50).prepare();
        assertEquals(2, p.devices().size());
        NamespaceInfo now = backend.namespace(half.devname());
        assertEquals(NamespaceMode.FSDAX, now.mode());
        assertTrue(now.active());
        assertEquals(half.uuid(), now.uuid(), "completed, not made anew");
        assertTrue(marks.isMarked(now.deviceUuid()));
        assertEquals(List.of("enable namespace0.0", "reconfigure namespace0.0", "create region1 FSDAX 2147483648"),
                changes(backend));
        assertEquals(List.of(Path.of("/dev/pmem0"), Path.of("/dev/pmem0")), checked,
                "its content is checked before and while it is reconfigured");
    }

    @Test
    void aDisabledPoolNamespaceIsEnabledAsItIsWithItsData() throws DeviceException {
        FakeNamespaceBackend backend = new FakeNamespaceBackend().withQemuRegions();
        Preparation first = pool(backend, 50).prepare();
        NamespaceInfo before = backend.namespace("namespace0.0");
        backend.disable("namespace0.0");
        backend.calls.clear();
        wiped.clear();
        Preparation second = pool(backend, 50).prepare();
        assertEquals(first, second);
        assertEquals(List.of(), wiped, "the volume group on it is kept");
        assertEquals(List.of("enable namespace0.0"), changes(backend), "no reconfiguration, no create, no destroy");
        assertEquals(before.deviceUuid(), backend.namespace("namespace0.0").deviceUuid(),
                "the kernel brought it back from its info block");
    }

    @Test
    void aHalfMadePoolNamespaceThatHoldsDataIsLeftAlone() throws DeviceException {
        FakeNamespaceBackend backend = new FakeNamespaceBackend().withQemuRegions();
        NamespaceInfo half = backend.halfMade("region0", POOL, marks.newUuid(), 2 * GIB);
        signatures.put(Path.of("/dev/pmem0"), "an ext4 signature");
        Preparation p = pool(backend, 50).prepare();
        assertEquals(List.of("region1"), p.devices().stream().map(PoolDevice::region).toList());
        assertTrue(p.skipped().get(0).reason().contains("ext4"), p.skipped().get(0).reason());
        NamespaceInfo now = backend.namespace(half.devname());
        assertEquals(NamespaceMode.RAW, now.mode());
        assertTrue(changes(backend).stream().noneMatch(c -> c.contains("reconfigure") || c.contains("destroy")),
                changes(backend).toString());
    }

    // ---- label-less regions

    @Test
    void labellessRegionsAreReconfiguredWholeIgnoringThePercentage() throws DeviceException {
        FakeNamespaceBackend backend = new FakeNamespaceBackend().withLabellessRegions(RegionInfo.NFIT, 2, 4 * GIB);
        Preparation p = pool(backend, 50).prepare();
        assertEquals(List.of(), p.skipped());
        assertEquals(List.of(
                new PoolDevice("region0", "ndbus1", 0, "/dev/pmem0", fsdaxUsable(4 * GIB), "nvdimm"),
                new PoolDevice("region1", "ndbus1", 0, "/dev/pmem1", fsdaxUsable(4 * GIB), "nvdimm")), p.devices());
        for (NamespaceInfo ns : backend.allNamespaces()) {
            assertEquals(NamespaceMode.FSDAX, ns.mode());
            assertEquals(4 * GIB, ns.sizeBytes());
            assertEquals(2 * MIB, ns.align());
            assertTrue(marks.isMarked(ns.deviceUuid()), "the pfn device carries the mark");
            assertEquals(NamespaceInfo.NIL, ns.uuid(), "a label-less namespace has no UUID of its own");
        }
        assertEquals(List.of("reconfigure namespace0.0", "reconfigure namespace1.0"), changes(backend));
        assertEquals(List.of(Path.of("/dev/pmem0"), Path.of("/dev/pmem1")), wiped);

        backend.calls.clear();
        assertEquals(p, pool(backend, 50).prepare());
        assertEquals(List.of(), changes(backend), "a second prepare changes nothing");
    }

    @Test
    void e820NamespacesShownAsFsdaxWithoutPfnCountAsRaw() throws DeviceException {
        FakeNamespaceBackend backend = new FakeNamespaceBackend().withLabellessRegions("e820", 1, GIB);
        assertEquals(NamespaceMode.FSDAX, backend.namespace("namespace0.0").mode());
        Preparation p = pool(backend, 50).prepare();
        assertEquals(List.of(new PoolDevice("region0", "ndbus1", 0, "/dev/pmem0", fsdaxUsable(GIB), "e820")),
                p.devices());
        assertEquals(2 * MIB, backend.namespace("namespace0.0").align(), "2 MiB, set explicitly");
    }

    @Test
    void aLabellessNamespaceWithAFilesystemIsSkippedWithoutBeingDisabled() throws DeviceException {
        FakeNamespaceBackend backend = new FakeNamespaceBackend().withLabellessRegions(RegionInfo.NFIT, 2, 4 * GIB);
        signatures.put(Path.of("/dev/pmem1"), "an ext4 signature");
        NamespaceInfo before = backend.namespace("namespace1.0");
        Preparation p = pool(backend, 50).prepare();
        assertEquals(List.of("region0"), p.devices().stream().map(PoolDevice::region).toList());
        assertEquals(1, p.skipped().size());
        SkippedRegion s = p.skipped().get(0);
        assertEquals("region1", s.region());
        assertTrue(s.reason().contains("/dev/pmem1 holds an ext4 signature"), s.reason());
        assertEquals(before, backend.namespace("namespace1.0"));
        assertEquals(List.of("reconfigure namespace0.0"), changes(backend), "region1 was not even disabled");
    }

    @Test
    void aLabellessNamespaceSetUpBySomeoneElseIsSkipped() throws DeviceException {
        FakeNamespaceBackend backend = new FakeNamespaceBackend().withLabellessRegions(RegionInfo.NFIT, 2, 4 * GIB);
        // Made fsdax by hand (ndctl create-namespace -f -e namespace0.0 -m fsdax), and devdax.
        pool(backend, 50).prepare();
        NamespaceInfo mine = backend.namespace("namespace0.0");
        NamespaceInfo byHand = new NamespaceInfo(mine.region(), mine.devname(), "", NamespaceInfo.NIL,
                NamespaceMode.FSDAX, mine.sizeBytes(), mine.resource(), true, false, "pmem0", "", mine.deviceBytes(),
                2 * MIB, List.of(), UUID.randomUUID());
        backend.region("region0").namespaces.set(0, byHand);
        NamespaceInfo other = backend.namespace("namespace1.0");
        NamespaceInfo devdax = new NamespaceInfo(other.region(), other.devname(), "", NamespaceInfo.NIL,
                NamespaceMode.DEVDAX, other.sizeBytes(), other.resource(), true, false, "", "dax1.0",
                other.deviceBytes(), 2 * MIB, List.of());
        backend.region("region1").namespaces.set(0, devdax);
        backend.calls.clear();

        Preparation p = pool(backend, 50).prepare();
        assertEquals(List.of(), p.devices());
        assertTrue(p.skipped().get(0).reason().contains("set up by someone else"), p.skipped().get(0).reason());
        assertTrue(p.skipped().get(1).reason().contains("devdax"), p.skipped().get(1).reason());
        assertEquals(List.of(), changes(backend));
    }

    @Test
    void aLabellessNamespaceInUseIsSkippedAsInUse() throws DeviceException {
        FakeNamespaceBackend backend = new FakeNamespaceBackend().withLabellessRegions(RegionInfo.NFIT, 1, 4 * GIB);
        backend.busy.add("namespace0.0");
        Preparation p = pool(backend, 50).prepare();
        assertEquals(List.of(), p.devices());
        assertTrue(p.skipped().get(0).reason().startsWith("in use:"), p.skipped().get(0).reason());
        assertEquals(NamespaceMode.RAW, backend.namespace("namespace0.0").mode());
    }

    @Test
    void aFailedReconfigurationSkipsTheRegionAndTheNextPrepareTriesAgain() throws DeviceException {
        FakeNamespaceBackend backend = new FakeNamespaceBackend().withLabellessRegions(RegionInfo.NFIT, 1, 4 * GIB);
        backend.failingPfnEnable.add("namespace0.0");
        Preparation failed = pool(backend, 50).prepare();
        assertEquals(List.of(), failed.devices());
        assertTrue(failed.skipped().get(0).reason().contains("ndctl_pfn_enable"), failed.skipped().get(0).reason());
        NamespaceInfo after = backend.namespace("namespace0.0");
        assertEquals(NamespaceMode.RAW, after.mode());
        assertTrue(after.active(), "given back raw and enabled");
        backend.failingPfnEnable.clear();
        assertEquals(1, pool(backend, 50).prepare().devices().size());
    }

    @Test
    void aDisabledLabellessNamespaceIsEnabledFirst() throws DeviceException {
        FakeNamespaceBackend backend = new FakeNamespaceBackend().withLabellessRegions(RegionInfo.NFIT, 1, 4 * GIB);
        Preparation first = pool(backend, 50).prepare();
        backend.disable("namespace0.0");
        backend.calls.clear();
        assertEquals(first, pool(backend, 50).prepare());
        assertEquals(List.of("enable namespace0.0"), changes(backend), "the pool device comes back from its info block");
    }

    @Test
    void mixedRegionsAreEachPreparedTheirWay() throws DeviceException {
        FakeNamespaceBackend backend = new FakeNamespaceBackend().withQemuRegions().withLabellessRegions("e820", 1, GIB);
        Preparation p = pool(backend, 25).prepare();
        assertEquals(List.of("nvdimm", "nvdimm", "e820"), p.devices().stream().map(PoolDevice::technology).toList());
        assertEquals(List.of(fsdaxUsable(GIB), fsdaxUsable(GIB), fsdaxUsable(GIB)),
                p.devices().stream().map(PoolDevice::sizeBytes).toList());
    }

    // ---- the node

    @Test
    void noBusOrNoLibraryFailsWithAHint() {
        FakeNamespaceBackend noBus = new FakeNamespaceBackend();
        noBus.noBus = true;
        DeviceException e = assertThrows(DeviceException.class, () -> pool(noBus, 50).prepare());
        assertTrue(e.getMessage().contains("modprobe nfit"), e.getMessage());
        FakeNamespaceBackend noLib = new FakeNamespaceBackend().withQemuRegions();
        noLib.loadFailure = new NdctlException("dlopen", "libndctl.so.6", Errno.ENOENT, null);
        e = assertThrows(DeviceException.class, () -> pool(noLib, 50).prepare());
        assertTrue(e.getMessage().startsWith("LVM mode on PMEM needs libndctl"), e.getMessage());
    }

    @Test
    void technologyComesFromTheBusProvider() {
        assertEquals("nvdimm", NdctlPoolDevices.technology("ACPI.NFIT"));
        assertEquals("e820", NdctlPoolDevices.technology("e820"));
        assertEquals("cxl", NdctlPoolDevices.technology("CXL"));
        assertEquals("nvdimm", NdctlPoolDevices.technology("of_pmem"));
    }

    @Test
    void poolNamesFitTheLabelAndMarksTellDriversApart() {
        assertEquals(POOL, new NdctlPoolDevices(DRIVER, new FakeNamespaceBackend(), 50, content, eraser).namespaceName());
        String longName = "a".repeat(63);
        String name = new PoolNamespaces(longName).name();
        assertEquals(63, name.length());
        assertTrue(name.endsWith("-lvm"));
        UUID u = marks.newUuid();
        assertEquals(8, u.version());
        assertEquals(2, u.variant());
        assertTrue(marks.isMarked(u));
        assertFalse(marks.isMarked(UUID.randomUUID()));
        assertFalse(new PoolNamespaces("other.example").isMarked(u));
        assertFalse(marks.newUuid().equals(u));
    }

    @Test
    void aNewPoolDeviceThatCannotBeClearedIsNotUsed() throws DeviceException {
        FakeNamespaceBackend backend = new FakeNamespaceBackend().withLabellessRegions(RegionInfo.NFIT, 1, 4 * GIB);
        NdctlPoolDevices failing = new NdctlPoolDevices(DRIVER, backend, 50, content, new VolumeEraser() {
            @Override
            public void erase(String id, Path device) {}

            @Override
            public void wipeSignatures(String id, Path device) throws DeviceException {
                throw new DeviceException("clearing old signatures on " + device + " failed: EIO");
            }
        });
        Preparation p = failing.prepare();
        assertEquals(List.of(), p.devices());
        assertTrue(p.skipped().get(0).reason().contains("could not be cleared"), p.skipped().get(0).reason());
    }
}
