package dev.pmemcsi.device.ndctl;

import static dev.pmemcsi.device.ndctl.FakeNamespaceBackend.GIB;
import static dev.pmemcsi.device.ndctl.FakeNamespaceBackend.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.BlockDeviceEraser;
import dev.pmemcsi.device.Capacity;
import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceHealth;
import dev.pmemcsi.device.NoSpaceException;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.OutOfRangeException;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.RegionCapacity;
import dev.pmemcsi.device.UnmanagedExtent;
import dev.pmemcsi.device.VolumeAccess;
import dev.pmemcsi.device.VolumeEraser;
import dev.pmemcsi.device.VolumeExistsException;
import dev.pmemcsi.device.VolumeHealth;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.device.VolumeInUseException;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.ndctl.BadBlock;
import dev.pmemcsi.ndctl.DimmInfo;
import dev.pmemcsi.ndctl.NamespaceInfo;
import dev.pmemcsi.ndctl.NamespaceMode;
import dev.pmemcsi.ndctl.NdctlException;
import dev.pmemcsi.ndctl.PersistenceDomain;
import dev.pmemcsi.ndctl.RegionInfo;
import dev.pmemcsi.ndctl.SmartHealth;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import jnr.constants.platform.Errno;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class NdctlDeviceManagerTest {

    private FakeNamespaceBackend backend;
    private final List<String> erased = new ArrayList<>();
    private final List<String> wiped = new ArrayList<>();
    private NdctlDeviceManager dm;
    private final VolumeNamespaces naming = new VolumeNamespaces("pmem-csi.dev");

    @BeforeEach
    void setUp() throws DeviceException {
        backend = new FakeNamespaceBackend().withQemuRegions();
        dm = manager();
        dm.start();
    }

    private NdctlDeviceManager manager() {
        return new NdctlDeviceManager("pmem-csi.dev", backend, new VolumeEraser() {
            @Override
            public void erase(String id, java.nio.file.Path dev) {
                erased.add(id + " " + dev);
            }

            @Override
            public void wipeSignatures(String id, java.nio.file.Path dev) {
                wiped.add(id);
            }
        });
    }

    private static VolumeRequest request(String name, long bytes, VolumeMode mode, boolean erase) {
        return new VolumeRequest(VolumeIds.fromName(name), bytes, 0, mode, erase, Map.of());
    }

    @Test
    void alignmentIsLcmOfPfnAlignTimesWaysAndRegionAlign() {
        assertEquals(16 * MIB, NdctlDeviceManager.alignment(region(16 * MIB, 1)));
        assertEquals(16 * MIB, NdctlDeviceManager.alignment(region(16 * MIB, 4)));
        assertEquals(48 * MIB, NdctlDeviceManager.alignment(region(16 * MIB, 3)));
        assertEquals(32 * MIB, NdctlDeviceManager.alignment(region(16 * MIB, 16)));
        // A region that reports no alignment gets the kernel's default.
        assertEquals(16 * MIB, NdctlDeviceManager.alignment(region(0, 1)));
    }

    private static RegionInfo region(long align, int ways) {
        return new RegionInfo("ndbus0", "region9", "pmem", 64 * GIB, 64 * GIB, 64 * GIB, align, ways, 0,
                PersistenceDomain.MEMORY_CONTROLLER, 0, false, true, List.of(), List.of());
    }

    @Test
    void uuidIsDerivedFromDriverVolumeAndEraseFlag() {
        UUID a = naming.uuidFor("vol-1", true);
        assertEquals(a, new VolumeNamespaces("pmem-csi.dev").uuidFor("vol-1", true));
        assertEquals(3, a.version(), "name-based UUID");
        assertNotEquals(a, naming.uuidFor("vol-1", false));
        assertNotEquals(a, naming.uuidFor("vol-2", true));
        assertNotEquals(a, new VolumeNamespaces("other.example").uuidFor("vol-1", true));
    }

    @Test
    void ownershipNeedsNameUuidAndAllocatedSize() {
        UUID u = naming.uuidFor("vol-1", false);
        assertEquals(Optional.of(new VolumeNamespaces.Owned("vol-1", false)), naming.owner(ns("vol-1", u, 64 * MIB)));
        // A deleted seed keeps its old name and UUID but has size 0.
        assertTrue(naming.owner(ns("vol-1", u, 0)).isEmpty());
        // The same name with any other UUID is somebody else's.
        assertTrue(naming.owner(ns("vol-1", UUID.randomUUID(), 64 * MIB)).isEmpty());
        // Our UUID for another name does not match either.
        assertTrue(naming.owner(ns("vol-2", u, 64 * MIB)).isEmpty());
        assertTrue(naming.owner(ns("Not A Volume ID", u, 64 * MIB)).isEmpty());
    }

    private static NamespaceInfo ns(String name, UUID uuid, long size) {
        return new NamespaceInfo("region0", "namespace0.0", name, uuid, NamespaceMode.FSDAX, size, 0x100000000L, size > 0,
                size == 0, size > 0 ? "pmem0" : "", "", size, 2 * MIB, List.of());
    }

    @Test
    void createsFsdaxNamespaceWithAtLeastTheRequestedUsableBytes() throws DeviceException {
        VolumeRequest req = request("pvc-a", GIB, VolumeMode.FSDAX, true);
        PmemVolume v = dm.createVolume(req);
        assertEquals(req.volumeId(), v.id());
        assertEquals(VolumeMode.FSDAX, v.mode());
        assertTrue(v.daxCapable());
        assertTrue(v.eraseAfter());
        assertTrue(v.usableBytes() >= GIB, "usable " + v.usableBytes());
        assertEquals(CapacityMath.rawBytesFor(VolumeMode.FSDAX, GIB, 16 * MIB), v.allocatedBytes());
        assertEquals(0, v.allocatedBytes() % (16 * MIB));
        assertEquals(Path.of("/dev/pmem0"), v.devicePath());
        NamespaceInfo made = backend.allNamespaces().get(0);
        assertEquals(req.volumeId(), made.altName());
        assertEquals(Optional.of(new VolumeNamespaces.Owned(req.volumeId(), true, 0, VolumeAccess.UNRECORDED)),
                naming.owner(made), "the UUID records the erase flag, the whole device as capacity, and no use");
        // Repeating the request returns the same volume without a second namespace.
        assertEquals(v, dm.createVolume(req));
        assertEquals(1, backend.allNamespaces().size());
    }

    @Test
    void fileIoVolumesAreSectorNamespacesWithoutDax() throws DeviceException {
        PmemVolume v = dm.createVolume(request("pvc-s", 256 * MIB, VolumeMode.SECTOR, false));
        assertEquals(VolumeMode.SECTOR, v.mode());
        assertFalse(v.daxCapable());
        assertEquals(NamespaceMode.SECTOR, backend.allNamespaces().get(0).mode());
        assertTrue(v.devicePath().toString().endsWith("s"));
        assertTrue(v.usableBytes() >= 256 * MIB);
    }

    @Test
    void sameIdWithOtherSizeOrModeIsRefused() throws DeviceException {
        dm.createVolume(request("pvc-x", 64 * MIB, VolumeMode.FSDAX, false));
        assertThrows(VolumeExistsException.class, () -> dm.createVolume(request("pvc-x", 2 * GIB, VolumeMode.FSDAX, false)));
        assertThrows(VolumeExistsException.class, () -> dm.createVolume(request("pvc-x", 64 * MIB, VolumeMode.SECTOR, false)));
    }

    @Test
    void bestFitKeepsTheLargestExtentWhole() throws DeviceException {
        PmemVolume big = dm.createVolume(request("big", 3 * GIB, VolumeMode.FSDAX, false));
        PmemVolume small = dm.createVolume(request("small", 512 * MIB, VolumeMode.FSDAX, false));
        assertEquals(big.region(), small.region(), "the small volume goes where the free extent is smallest");
        Capacity c = dm.capacity();
        assertEquals(4 * GIB, c.maxVolumeBytes());
    }

    @Test
    void limitBelowTheSmallestPossibleSizeIsOutOfRange() {
        VolumeRequest req = new VolumeRequest("v1", 1, 4096, VolumeMode.FSDAX, false, Map.of());
        OutOfRangeException e = assertThrows(OutOfRangeException.class, () -> dm.createVolume(req));
        assertTrue(e.getMessage().contains("smallest"), e.getMessage());
        assertTrue(backend.allNamespaces().isEmpty());
    }

    @Test
    void requiredEqualToLimitIsServedExactlyAndTheCapacitySurvivesARestart() throws DeviceException {
        for (VolumeMode mode : VolumeMode.values()) {
            for (long mib : new long[] {16, 64, 100, 256, 512, 1024, 2048}) {
                String id = VolumeIds.fromName("exact-" + mode + "-" + mib);
                VolumeRequest req = new VolumeRequest(id, mib * MIB, mib * MIB, mode, true, Map.of(),
                        VolumeAccess.filesystem(VolumeAccess.EXT4));
                PmemVolume v = dm.createVolume(req);
                assertEquals(mib * MIB, v.capacityBytes(), mode + " " + mib + " MiB");
                assertTrue(v.usableBytes() >= mib * MIB, v.toString());
                assertEquals(v, dm.createVolume(req), "a repeat");
                NdctlDeviceManager restarted = manager();
                restarted.start();
                assertEquals(v, restarted.getVolume(id).orElseThrow(), "after a restart");
                dm.deleteVolume(id, false);
            }
        }
    }

    @Test
    void theRecordedUseSurvivesARestartAndRefusesAnotherFilesystem() throws DeviceException {
        String id = VolumeIds.fromName("used");
        dm.createVolume(new VolumeRequest(id, 110 * MIB, 0, VolumeMode.FSDAX, false, Map.of(),
                VolumeAccess.filesystem(VolumeAccess.EXT4)));
        NdctlDeviceManager restarted = manager();
        restarted.start();
        PmemVolume v = restarted.getVolume(id).orElseThrow();
        assertEquals(VolumeAccess.filesystem(VolumeAccess.EXT4), v.access());
        assertEquals(v.usableBytes(), v.capacityBytes(), "without a limit the capacity is the whole device");
        VolumeExistsException e = assertThrows(VolumeExistsException.class, () -> restarted.createVolume(
                new VolumeRequest(id, 110 * MIB, 0, VolumeMode.FSDAX, false, Map.of(),
                        VolumeAccess.filesystem(VolumeAccess.XFS))));
        assertTrue(e.getMessage().contains("ext4"), e.getMessage());
        assertThrows(VolumeExistsException.class, () -> restarted.createVolume(
                new VolumeRequest(id, 110 * MIB, 0, VolumeMode.FSDAX, false, Map.of(), VolumeAccess.blockOnly())));
    }

    @Test
    void theUuidCarriesTheRecordAndProvesOwnership() {
        for (VolumeAccess access : List.of(VolumeAccess.UNRECORDED, VolumeAccess.blockOnly(),
                VolumeAccess.filesystem(VolumeAccess.EXT4), VolumeAccess.filesystem(VolumeAccess.XFS),
                new VolumeAccess(VolumeAccess.XFS, true))) {
            for (long capacity : new long[] {0, 4096, 256 * MIB, 100 * MIB + 1, VolumeNamespaces.MAX_CAPACITY}) {
                for (boolean erase : new boolean[] {true, false}) {
                    UUID u = naming.uuidFor("vol-1", erase, capacity, access);
                    assertEquals(8, u.version());
                    assertEquals(2, u.variant());
                    assertEquals(Optional.of(new VolumeNamespaces.Owned("vol-1", erase, capacity, access)),
                            naming.owner(ns("vol-1", u, 64 * MIB)));
                    assertTrue(naming.owner(ns("vol-2", u, 64 * MIB)).isEmpty(), "another volume's name");
                    assertTrue(new VolumeNamespaces("other.example").owner(ns("vol-1", u, 64 * MIB)).isEmpty(),
                            "another driver's");
                }
            }
        }
        assertThrows(IllegalArgumentException.class,
                () -> naming.uuidFor("vol-1", true, VolumeNamespaces.MAX_CAPACITY + 1, VolumeAccess.UNRECORDED));
    }

    @Test
    void noRegionWithRoomIsNoSpace() {
        NoSpaceException e = assertThrows(NoSpaceException.class,
                () -> dm.createVolume(request("huge", 5 * GIB, VolumeMode.FSDAX, false)));
        assertTrue(e.getMessage().contains("region0="), e.getMessage());
    }

    @Test
    void aDeviceSmallerThanPromisedIsDestroyedAndReported() {
        backend.deviceShortfall = 32 * MIB;
        DeviceException e = assertThrows(DeviceException.class, () -> dm.createVolume(request("short", GIB, VolumeMode.FSDAX, false)));
        assertTrue(e.getMessage().contains("usable bytes"), e.getMessage());
        assertTrue(backend.allNamespaces().isEmpty());
    }

    @Test
    void aNewManagerRecoversVolumesFromTheLabels() throws DeviceException {
        PmemVolume a = dm.createVolume(request("a", 64 * MIB, VolumeMode.FSDAX, true));
        PmemVolume b = dm.createVolume(request("b", 64 * MIB, VolumeMode.SECTOR, false));
        NdctlDeviceManager restarted = manager();
        restarted.start();
        List<PmemVolume> volumes = restarted.listVolumes();
        assertEquals(2, volumes.size());
        assertEquals(a, restarted.getVolume(a.id()).orElseThrow());
        assertEquals(b, restarted.getVolume(b.id()).orElseThrow());
        assertTrue(restarted.getVolume(a.id()).orElseThrow().eraseAfter());
        assertFalse(restarted.getVolume(b.id()).orElseThrow().eraseAfter());
    }

    @Test
    void startDestroysHalfMadeNamespacesOfOursOnly() throws DeviceException {
        String id = VolumeIds.fromName("crashed");
        backend.add("region0", id, naming.uuidFor(id, false), NamespaceMode.FSDAX, 64 * MIB, false);
        NamespaceInfo foreignIdle = backend.add("region1", "", UUID.randomUUID(), NamespaceMode.FSDAX, 64 * MIB, false);
        NamespaceInfo foreign = backend.add("region1", "cli-made", UUID.randomUUID(), NamespaceMode.FSDAX, 64 * MIB, true);
        NdctlDeviceManager restarted = manager();
        restarted.start();
        assertEquals(List.of(foreignIdle, foreign), backend.allNamespaces());
        assertTrue(restarted.listVolumes().isEmpty());
        List<UnmanagedExtent> unmanaged = restarted.unmanagedExtents();
        assertEquals(2, unmanaged.size());
        assertEquals("foreign namespace", unmanaged.get(0).reason());
        assertEquals("namespace1.1 (cli-made)", unmanaged.get(1).name());
        assertEquals(64 * MIB, unmanaged.get(1).offsetBytes());
    }

    @Test
    void createCleansUpAHalfMadeNamespaceOfTheSameIdAndRetries() throws DeviceException {
        String id = VolumeIds.fromName("again");
        backend.add("region0", id, naming.uuidFor(id, true), NamespaceMode.FSDAX, 4 * GIB, false);
        PmemVolume v = dm.createVolume(new VolumeRequest(id, 3 * GIB, 0, VolumeMode.FSDAX, true, Map.of()));
        assertEquals(1, backend.allNamespaces().size());
        assertTrue(backend.allNamespaces().get(0).active());
        assertEquals(id, v.id());
    }

    @Test
    void aForeignNamespaceWithTheVolumeIdAsNameIsNeverDeleted() throws DeviceException {
        String id = VolumeIds.fromName("victim");
        NamespaceInfo foreign = backend.add("region0", id, UUID.randomUUID(), NamespaceMode.FSDAX, 64 * MIB, true);
        assertTrue(dm.getVolume(id).isEmpty());
        dm.deleteVolume(id, true);
        assertEquals(List.of(foreign), backend.allNamespaces());
        assertTrue(erased.isEmpty());
    }

    @Test
    void deleteErasesOnlyWhenAskedAndIsIdempotent() throws DeviceException {
        PmemVolume keep = dm.createVolume(request("keep", 64 * MIB, VolumeMode.FSDAX, false));
        PmemVolume wipe = dm.createVolume(request("wipe", 64 * MIB, VolumeMode.FSDAX, true));
        dm.deleteVolume(keep.id(), false);
        dm.deleteVolume(wipe.id(), true);
        dm.deleteVolume(wipe.id(), true);
        assertEquals(List.of(wipe.id() + " " + wipe.devicePath()), erased);
        assertTrue(backend.allNamespaces().isEmpty());
    }

    @Test
    void deleteOfAMountedVolumeIsInUse() throws DeviceException {
        PmemVolume v = dm.createVolume(request("mounted", 64 * MIB, VolumeMode.FSDAX, false));
        backend.busy.add(backend.allNamespaces().get(0).devname());
        assertThrows(VolumeInUseException.class, () -> dm.deleteVolume(v.id(), false));
        assertTrue(dm.getVolume(v.id()).isPresent());
    }

    @Test
    void capacityIsRawAndAlignedDown() throws DeviceException {
        dm.createVolume(request("c", 100 * MIB, VolumeMode.FSDAX, false));
        Capacity c = dm.capacity();
        RegionCapacity r0 = c.regions().get(0);
        assertEquals("region0", r0.region());
        assertEquals(16 * MIB, r0.alignment());
        assertEquals(4 * GIB, r0.totalBytes());
        long raw = CapacityMath.rawBytesFor(VolumeMode.FSDAX, 100 * MIB, 16 * MIB);
        assertEquals(raw, r0.usedBytes());
        assertEquals(4 * GIB - raw, r0.availableBytes());
        assertEquals(4 * GIB, c.regions().get(1).maxExtentBytes());
    }

    @Test
    void startExplainsMissingLibraryAndMissingBus() {
        FakeNamespaceBackend noLib = new FakeNamespaceBackend();
        noLib.loadFailure = new NdctlException("dlopen", "libndctl.so.6", Errno.ENOENT, "libndctl.so.6 not found: install libndctl6");
        DeviceException e = assertThrows(DeviceException.class, () -> new NdctlDeviceManager("d", noLib, new BlockDeviceEraser(BlockDeviceEraser.Method.ZEROOUT)).start());
        assertTrue(e.getMessage().contains("install libndctl6"), e.getMessage());

        FakeNamespaceBackend noBus = new FakeNamespaceBackend();
        noBus.noBus = true;
        e = assertThrows(DeviceException.class, () -> new NdctlDeviceManager("d", noBus, new BlockDeviceEraser(BlockDeviceEraser.Method.ZEROOUT)).start());
        assertTrue(e.getMessage().startsWith("no NVDIMM bus: load the nfit and nd_pmem modules"), e.getMessage());
    }

    @Test
    void qemuDimmsReportUnknownHealthAndNoBadBlocks() throws DeviceException {
        DeviceHealth h = dm.deviceHealth();
        assertEquals(2, h.dimms().size());
        DeviceHealth.DimmHealth d = h.dimms().get(0);
        assertEquals("nmem0", d.dimm());
        assertEquals("unknown", d.healthState());
        assertEquals(-1, d.sparesPercent());
        assertTrue(Double.isNaN(d.temperatureCelsius()));
        assertEquals(Map.of("region0", 0L, "region1", 0L), h.regionBadBlocks());
    }

    @Test
    void volumeHealthCountsRegionBadBlocksInsideTheNamespace() throws DeviceException {
        PmemVolume v = dm.createVolume(request("bb", 64 * MIB, VolumeMode.SECTOR, false));
        // One range inside the namespace (region offset 1 MiB), one far beyond it.
        backend.region("region0").badBlocks.add(new BadBlock(2048, 8));
        backend.region("region0").badBlocks.add(new BadBlock(3L * GIB / 512, 8));
        VolumeHealth h = dm.volumeHealth(v.id());
        assertTrue(h.abnormal());
        assertEquals(8, h.badBlocks());
        assertEquals(Map.of("region0", 16L, "region1", 0L), dm.deviceHealth().regionBadBlocks());
    }

    @Test
    void namespaceErrorsMapToDeviceExceptionKinds() {
        assertTrue(NdctlDeviceManager.translate(new NdctlException("ndctl_namespace_set_size", "n", Errno.ENOSPC, null))
                instanceof NoSpaceException);
        assertTrue(NdctlDeviceManager.translate(new NdctlException("ndctl_namespace_disable_safe", "n", Errno.EBUSY, null))
                instanceof VolumeInUseException);
        assertTrue(NdctlDeviceManager.translate(new NdctlException("ndctl_pfn_enable", "pfn0.1", Errno.ENXIO, null))
                .getMessage().startsWith("ndctl_pfn_enable(pfn0.1): ENXIO"));
    }

    @Test
    void newVolumesHaveTheirSignaturesWipedButRepeatsDoNot() throws DeviceException {
        PmemVolume v = dm.createVolume(request("pvc-sig", 256L << 20, VolumeMode.FSDAX, false));
        assertEquals(List.of(v.id()), wiped);
        dm.createVolume(request("pvc-sig", 256L << 20, VolumeMode.FSDAX, false));
        assertEquals(List.of(v.id()), wiped, "an existing volume keeps its filesystem");
    }

    @Test
    void createsDeletesAndErasesAreReportedToTheListener() throws DeviceException {
        List<String> reported = new ArrayList<>();
        OperationListener listener = (kind, subject) -> failure -> reported.add(kind + " " + subject + ": "
                + (failure == null ? "ok" : failure.getClass().getSimpleName()));
        NdctlDeviceManager observed = new NdctlDeviceManager("pmem-csi.dev", backend, new VolumeEraser() {
            @Override
            public void erase(String id, Path dev) {
                erased.add(id + " " + dev);
            }

            @Override
            public void wipeSignatures(String id, Path dev) {
                wiped.add(id);
            }
        }, listener);
        observed.start();
        PmemVolume v = observed.createVolume(request("pvc-timed", 64 * MIB, VolumeMode.FSDAX, true));
        assertThrows(NoSpaceException.class, () -> observed.createVolume(request("pvc-huge", 1024 * GIB, VolumeMode.FSDAX, false)));
        observed.deleteVolume(v.id(), true);
        assertEquals(List.of(
                "CREATE volume " + v.id() + ": ok",
                "CREATE volume " + VolumeIds.fromName("pvc-huge") + ": NoSpaceException",
                "ERASE volume " + v.id() + " on " + v.devicePath() + ": ok",
                "DELETE volume " + v.id() + ": ok"), reported);
    }

    @Test
    void onlyLabellessRegionsAnswerCreateWithNoSpaceNamingLvmMode() throws DeviceException {
        for (String provider : List.of(RegionInfo.NFIT, "e820")) {
            FakeNamespaceBackend labelless = new FakeNamespaceBackend().withLabellessRegions(provider, 2, 4 * GIB);
            NdctlDeviceManager direct = new NdctlDeviceManager("pmem-csi.dev", labelless, NO_MEDIA);
            direct.start();
            NoSpaceException e = assertThrows(NoSpaceException.class,
                    () -> direct.createVolume(request("pvc-ll", 64 * MIB, VolumeMode.FSDAX, false)));
            assertTrue(e.getMessage().contains("--device-manager lvm"), e.getMessage());
            assertTrue(e.getMessage().contains("region0") && e.getMessage().contains("region1"), e.getMessage());
            assertTrue(e.getMessage().contains("label-less"), e.getMessage());
            // Nothing was tried: the one raw namespace of each region is as it was.
            assertEquals(List.of("namespace0.0", "namespace1.0"),
                    labelless.allNamespaces().stream().map(NamespaceInfo::devname).toList());
            assertTrue(labelless.calls.stream().noneMatch(c -> c.startsWith("create") || c.startsWith("destroy")),
                    labelless.calls.toString());
            assertEquals(0, direct.capacity().maxVolumeBytes());
            // Its namespaces are reported for what they are.
            List<UnmanagedExtent> extents = direct.unmanagedExtents();
            assertEquals(2, extents.size());
            extents.forEach(x -> assertTrue(x.reason().contains("label-less"), x.reason()));
        }
    }

    @Test
    void aFullLabelledRegionNextToLabellessOnesMentionsLvmMode() throws DeviceException {
        backend.withLabellessRegions("e820", 1, GIB);
        NdctlDeviceManager mixed = manager();
        mixed.start();
        NoSpaceException e = assertThrows(NoSpaceException.class,
                () -> mixed.createVolume(request("pvc-big", 5 * GIB, VolumeMode.FSDAX, false)));
        assertTrue(e.getMessage().contains("--device-manager lvm"), e.getMessage());
        // The labelled regions still serve volumes that fit.
        assertEquals("region0", mixed.createVolume(request("pvc-fits", GIB, VolumeMode.FSDAX, false)).region());
    }

    private static final VolumeEraser NO_MEDIA = new VolumeEraser() {
        @Override
        public void erase(String volumeId, Path device) {}

        @Override
        public void wipeSignatures(String volumeId, Path device) {}
    };

    @Test
    void poolNamespacesOfLvmModeAreReportedAsSuchAndNeverTouched() throws DeviceException {
        new NdctlPoolDevices("pmem-csi.dev", backend, 25, device -> Optional.empty(), NO_MEDIA).prepare();
        List<NamespaceInfo> pools = backend.allNamespaces();
        NdctlDeviceManager restarted = manager();
        restarted.start();
        assertEquals(List.of(), restarted.listVolumes());
        List<UnmanagedExtent> extents = restarted.unmanagedExtents();
        assertEquals(2, extents.size());
        extents.forEach(x -> assertEquals("pool namespace of LVM mode", x.reason()));
        assertEquals(pools, backend.allNamespaces());
    }
}
