package dev.pmemcsi.device.lvm;

import static dev.pmemcsi.device.lvm.LvmFixture.GIB;
import static dev.pmemcsi.device.lvm.LvmFixture.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.Capacity;
import dev.pmemcsi.device.DeviceBusyException;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.NoSpaceException;
import dev.pmemcsi.device.OutOfRangeException;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.PoolDevices;
import dev.pmemcsi.device.RegionCapacity;
import dev.pmemcsi.device.UnmanagedExtent;
import dev.pmemcsi.device.VolumeAccess;
import dev.pmemcsi.device.VolumeExistsException;
import dev.pmemcsi.device.VolumeHealth;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.device.VolumeInUseException;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeNotFoundException;
import dev.pmemcsi.device.VolumeRequest;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LvmDeviceManagerTest {

    @TempDir
    Path tmp;
    private LvmFixture f;

    private static final String VG0 = "pmemcsi.ndbus0.region0";
    private static final String VG1 = "pmemcsi.ndbus0.region1";

    @BeforeEach
    void setUp() throws Exception {
        f = new LvmFixture(tmp).pmem(0, 4 * GIB).pmem(1, 4 * GIB);
    }

    private static VolumeRequest request(String name, long required, long limit) {
        return new VolumeRequest(VolumeIds.fromName(name), required, limit, VolumeMode.FSDAX, false, Map.of("usage", "AppDirect"),
                VolumeAccess.filesystem(VolumeAccess.EXT4));
    }

    private FakeLvm.Lv lvOf(String name) {
        String lv = LvmNaming.logicalVolumeName(VolumeIds.fromName(name));
        return f.lvm.lvs.values().stream().filter(l -> l.name.equals(lv)).findFirst().orElseThrow();
    }

    // ---- start

    @Test
    void startMakesEachPoolDeviceAVolumeGroupOfTheDriverOnce() throws Exception {
        f.started();
        List<FakeLvm.Call> changes = f.lvm.changes();
        assertEquals(List.of("pvcreate", "vgcreate", "pvcreate", "vgcreate"), changes.stream().map(FakeLvm.Call::command).toList());
        assertEquals(List.of("--dataalignment", "2m", "/dev/pmem0"), changes.get(0).args());
        assertEquals(List.of("--physicalextentsize", "4194304b", "--addtag", LvmFixture.DRIVER, VG0, "/dev/pmem0"),
                changes.get(1).args());
        assertEquals(List.of(LvmFixture.DRIVER), f.lvm.vgs.get(VG1).tags);

        // A restart finds them by their tag and changes nothing.
        f.lvm.calls.clear();
        LvmDeviceManager again = f.started();
        assertEquals(List.of(), f.lvm.changes());
        assertEquals(2, again.capacity().regions().size());
    }

    @Test
    void everyCommandRunsWithoutUdevAndSeesOnlyThePoolDevices() throws Exception {
        LvmDeviceManager m = f.started();
        m.createVolume(request("pvc-a", 10 * MIB, 0));
        m.listVolumes();
        for (FakeLvm.Call c : f.lvm.calls) {
            assertEquals(Map.of("DM_DISABLE_UDEV", "1", "LVM_SUPPRESS_FD_WARNINGS", "1", "LC_ALL", "C"), c.environment(),
                    c.command());
            String config = c.config();
            assertTrue(config.contains("filter=[\"a|^/dev/pmem0$|\",\"a|^/dev/pmem1$|\",\"r|.*|\"]"), config);
            assertTrue(config.contains("global_filter=[\"a|^/dev/pmem0$|\",\"a|^/dev/pmem1$|\",\"r|.*|\"]"), config);
            assertTrue(config.contains("obtain_device_list_from_udev=0") && config.contains("use_devicesfile=0"), config);
            assertTrue(config.contains("activation{udev_sync=0 udev_rules=0 monitoring=0}"), config);
            assertTrue(config.contains("locking_dir=\"" + tmp.resolve("lvm/lock") + "\""), config);
            if (c.command().equals("pvs") || c.command().equals("fullreport")) {
                assertEquals(List.of("--reportformat", "json", "--units", "b", "--nosuffix"), c.args().subList(0, 5));
            }
        }
    }

    @Test
    void aPhysicalVolumeOfSomeoneElsesVolumeGroupIsLeftAloneAndReported() throws Exception {
        FakeLvm.Pv foreign = f.lvm.pvs.get("/dev/pmem1");
        foreign.isPv = true;
        foreign.vg = "data";
        FakeLvm.Vg data = new FakeLvm.Vg("data", "/dev/pmem1", 4 * MIB, 4 * GIB - 4 * MIB);
        f.lvm.vgs.put("data", data);
        FakeLvm.Lv theirs = new FakeLvm.Lv("db", "data", 64 * MIB);
        theirs.tags.add(LvmFixture.DRIVER); // even with the driver's tag: the volume group is not the driver's
        theirs.tags.add(LvmFixture.DRIVER + "/id=" + VolumeIds.fromName("pvc-db"));
        f.lvm.lvs.put("data/db", theirs);

        LvmDeviceManager m = f.started();
        assertTrue(f.lvm.changes().stream().allMatch(c -> !c.args().contains("/dev/pmem1") && !c.args().contains("data")),
                "nothing touches /dev/pmem1: " + f.lvm.changes());
        assertEquals(List.of(), m.listVolumes());
        m.deleteVolume(VolumeIds.fromName("pvc-db"), true);
        assertTrue(f.lvm.lvs.containsKey("data/db"));
        List<UnmanagedExtent> reported = m.unmanagedExtents();
        assertEquals(1, reported.size());
        assertEquals("region1", reported.get(0).region());
        assertEquals("/dev/pmem1", reported.get(0).name());
        assertEquals("physical volume of volume group data, which the driver does not own", reported.get(0).reason());
        assertEquals(List.of("region0"), m.capacity().regions().stream().map(RegionCapacity::region).toList());
    }

    @Test
    void aDeviceWithASignatureIsNotOverwritten() throws Exception {
        f.lvm.pvs.get("/dev/pmem0").signature = true;
        LvmDeviceManager m = f.started();
        assertFalse(f.lvm.pvs.get("/dev/pmem0").isPv);
        UnmanagedExtent u = m.unmanagedExtents().get(0);
        assertEquals("/dev/pmem0", u.name());
        assertTrue(u.reason().contains("ext4 signature detected"), u.reason());

        f.lvm.pvs.get("/dev/pmem1").signature = true;
        LvmFixture g = new LvmFixture(tmp.resolve("g")).pmem(0, GIB);
        g.lvm.pvs.get("/dev/pmem0").signature = true;
        DeviceException e = assertThrows(DeviceException.class, g::started);
        assertTrue(e.getMessage().startsWith("none of the pool devices (test devices) can be used"), e.getMessage());
    }

    @Test
    void anOrphanPhysicalVolumeLeftByACrashBecomesAVolumeGroup() throws Exception {
        f.lvm.pvs.get("/dev/pmem0").isPv = true;
        f.started();
        assertEquals(List.of("vgcreate", "pvcreate", "vgcreate"), f.lvm.changes().stream().map(FakeLvm.Call::command).toList());
        assertTrue(f.lvm.vgs.containsKey(VG0));
    }

    @Test
    void withoutDeviceMapperStartRefusesAndSaysWhatToLoad() throws Exception {
        java.nio.file.Files.delete(f.sysfs.resolve("class/misc/device-mapper"));
        if (java.nio.file.Files.exists(Path.of("/dev/mapper/control"))) {
            return; // this host has device-mapper after all
        }
        DeviceException e = assertThrows(DeviceException.class, f::started);
        assertTrue(e.getMessage().contains("modprobe dm_mod"), e.getMessage());
        assertEquals(List.of(), f.lvm.calls);
    }

    @Test
    void callsBeforeStartAreRefused() {
        LvmDeviceManager m = f.manager();
        assertThrows(DeviceBusyException.class, m::listVolumes);
        assertFalse(m.isReady());
    }

    // ---- create

    @Test
    void aVolumeIsAnExtentMultipleTaggedWithWhatItWasCreatedFor() throws Exception {
        LvmDeviceManager m = f.started();
        f.lvm.calls.clear();
        VolumeRequest req = request("pvc-a", 5 * MIB, 0);
        PmemVolume v = m.createVolume(req);
        assertEquals(8 * MIB, v.usableBytes(), "rounded up to whole 4 MiB extents");
        assertEquals(8 * MIB, v.capacityBytes());
        assertEquals(8 * MIB, v.allocatedBytes());
        assertTrue(v.daxCapable());
        assertEquals(VolumeMode.FSDAX, v.mode());
        String lv = "pmem." + req.volumeId().replace('-', '.');
        assertEquals(Path.of("/dev/mapper/" + VG0 + "-" + lv), v.devicePath());
        assertEquals("region0", v.region());

        FakeLvm.Call create = f.lvm.calls.stream().filter(c -> c.command().equals("lvcreate")).findFirst().orElseThrow();
        assertEquals(List.of("--type", "linear", "--name", lv, "--size", (8 * MIB) + "b", "--wipesignatures", "n",
                "--zero", "n", "--activate", "y"), create.args().subList(0, 12));
        // One lvm command: no report first (the model knows the free space), no tag change after
        // (the pending create is recorded in a file, gone once the signatures are wiped).
        assertEquals(List.of("lvcreate"), f.lvm.commands());
        assertEquals(List.of("wipe " + req.volumeId() + " " + v.devicePath()), f.erased);
        assertTrue(isEmptyDir(tmp.resolve("lvm/pending")), "no pending create is left");
        assertEquals(List.of(LvmFixture.DRIVER, LvmFixture.DRIVER + "/access=ext4",
                LvmFixture.DRIVER + "/attr=dXNhZ2U.QXBwRGlyZWN0", LvmFixture.DRIVER + "/id=" + req.volumeId()),
                lvOf("pvc-a").tags.stream().sorted().toList());
    }

    @Test
    void aLimitBelowTheExtentMultipleIsTheCapacityAndIsRecorded() throws Exception {
        LvmDeviceManager m = f.started();
        PmemVolume v = m.createVolume(request("pvc-limit", 5 * MIB, 6 * MIB));
        assertEquals(8 * MIB, v.usableBytes());
        assertEquals(6 * MIB, v.capacityBytes());
        assertTrue(lvOf("pvc-limit").tags.contains(LvmFixture.DRIVER + "/capacity=" + 6 * MIB));
        assertEquals(6 * MIB, f.started().getVolume(v.id()).orElseThrow().capacityBytes(), "after a restart too");

        OutOfRangeException e = assertThrows(OutOfRangeException.class, () -> m.createVolume(request("pvc-tiny", MIB, 3 * MIB)));
        assertEquals("limit_bytes 3145728 is below the smallest LVM volume, one extent of 4194304 bytes", e.getMessage());
    }

    @Test
    void noSizeMeansTheDefaultSize() throws Exception {
        PmemVolume v = f.started().createVolume(request("pvc-default", 0, 0));
        assertEquals(GIB, v.capacityBytes());
    }

    @Test
    void aRepeatedCreateReturnsTheVolumeOrRefusesAnotherOne() throws Exception {
        LvmDeviceManager m = f.started();
        PmemVolume v = m.createVolume(request("pvc-a", 10 * MIB, 0));
        f.lvm.calls.clear();
        assertEquals(v, m.createVolume(request("pvc-a", 10 * MIB, 0)));
        assertEquals(v, m.createVolume(request("pvc-a", 0, 0)));
        assertEquals(List.of(), f.lvm.changes());
        VolumeExistsException e = assertThrows(VolumeExistsException.class, () -> m.createVolume(request("pvc-a", 20 * MIB, 0)));
        assertTrue(e.getMessage().contains("outside the requested range"), e.getMessage());
        assertThrows(VolumeExistsException.class, () -> m.createVolume(new VolumeRequest(v.id(), 10 * MIB, 0,
                VolumeMode.FSDAX, true, Map.of())));
    }

    @Test
    void aRestartedDriverFindsEveryVolumeFromTheTagsAlone() throws Exception {
        LvmDeviceManager m = f.started();
        PmemVolume a = m.createVolume(request("pvc-a", 10 * MIB, 0));
        PmemVolume b = m.createVolume(new VolumeRequest(VolumeIds.fromName("pvc-b"), 100 * MIB, 0, VolumeMode.FSDAX, true,
                Map.of("usage", "AppDirect", "eraseafter", "true", "odd key/=", "välue, with: commas"),
                new VolumeAccess(VolumeAccess.XFS, true)));
        LvmDeviceManager restarted = f.started();
        assertEquals(m.listVolumes(), restarted.listVolumes());
        PmemVolume again = restarted.getVolume(b.id()).orElseThrow();
        assertEquals(b, again);
        assertEquals("välue, with: commas", again.attributes().get("odd key/="));
        assertTrue(again.eraseAfter());
        assertEquals(new VolumeAccess(VolumeAccess.XFS, true), again.access());
        assertEquals(a, restarted.getVolume(a.id()).orElseThrow());
    }

    @Test
    void sectorVolumesAreNotOfferedAndSaySo() throws Exception {
        LvmDeviceManager m = f.started();
        NoSpaceException e = assertThrows(NoSpaceException.class, () -> m.createVolume(new VolumeRequest(
                VolumeIds.fromName("pvc-sector"), 10 * MIB, 0, VolumeMode.SECTOR, false, Map.of())));
        assertTrue(e.getMessage().startsWith("LVM mode serves only fsdax volumes"), e.getMessage());
        assertEquals(new Capacity.Requestable(0, 0, 0), m.capacity().requestable(VolumeMode.SECTOR));
        assertTrue(f.lvm.lvs.isEmpty());
    }

    @Test
    void placementIsBestFitOverTheVolumeGroupsFreeSpace() throws Exception {
        LvmDeviceManager m = f.started();
        // region1 gets less free space: the next small volume goes there, a large one to region0.
        assertEquals("region0", m.createVolume(request("pvc-big", 2 * GIB, 0)).region());
        assertEquals("region0", m.createVolume(request("pvc-small", 100 * MIB, 0)).region());
        assertEquals("region1", m.createVolume(request("pvc-large", 3 * GIB, 0)).region());
    }

    @Test
    void aVolumeLargerThanAnyGapButNotThanTheFreeSpaceIsMade() throws Exception {
        // Direct mode cannot: after deleting the middle of three volumes, the free space is split.
        LvmFixture one = new LvmFixture(tmp.resolve("one")).pmem(0, GIB + 2 * MIB);
        LvmDeviceManager m = one.started();
        m.createVolume(request("pvc-1", 300 * MIB, 0));
        PmemVolume middle = m.createVolume(request("pvc-2", 300 * MIB, 0));
        m.createVolume(request("pvc-3", 300 * MIB, 0));
        m.deleteVolume(middle.id(), false);
        long free = GIB - 600 * MIB;
        assertEquals(free, m.capacity().maxVolumeBytes(), "the largest volume is all free space");
        PmemVolume big = m.createVolume(request("pvc-4", free, 0));
        assertEquals(free, big.capacityBytes());
        assertEquals(0, m.capacity().availableBytes());
        NoSpaceException e = assertThrows(NoSpaceException.class, () -> m.createVolume(request("pvc-5", 4 * MIB, 0)));
        assertEquals("no volume group has room for a volume of 4194304 bytes (4194304 in whole extents); free bytes: region0=0",
                e.getMessage());
    }

    @Test
    void aCreateThatLosesTheSpaceToAnotherIsNoSpace() throws Exception {
        LvmDeviceManager m = f.started();
        for (int i = 0; i < 2; i++) {
            f.lvm.failNext(c -> c.command().equals("lvcreate"), 5,
                    "  Volume group \"" + VG0 + "\" has insufficient free space (3 extents): 4 required.");
        }
        NoSpaceException e = assertThrows(NoSpaceException.class, () -> m.createVolume(request("pvc-a", 16 * MIB, 0)));
        assertTrue(e.getMessage().contains("another volume took them"), e.getMessage());
        assertTrue(f.lvm.lvs.isEmpty(), f.lvm.lvs.keySet().toString());
        assertTrue(isEmptyDir(tmp.resolve("lvm/pending")), "no pending create is left");
    }

    @Test
    void spaceTakenBehindTheDriversBackIsSeenByTheCreateThatMissesIt() throws Exception {
        LvmDeviceManager m = f.started();
        long free0 = m.capacity().regions().get(0).availableBytes();
        long free1 = m.capacity().regions().get(1).availableBytes();
        // Someone fills most of region0's group outside the driver: the model still has it free,
        // and region0, the lower name, wins the tie.
        FakeLvm.Lv theirs = new FakeLvm.Lv("theirs", VG0, free0 - 64 * MIB);
        f.lvm.lvs.put(theirs.full(), theirs);
        f.lvm.calls.clear();
        PmemVolume v = m.createVolume(request("pvc-a", 512 * MIB, 0));
        assertEquals("region1", v.region(), "placed again from lvm's own report");
        assertEquals(List.of("lvcreate", "fullreport", "lvcreate"), f.lvm.commands());
        assertEquals(List.of(64 * MIB, free1 - 512 * MIB),
                m.capacity().regions().stream().map(RegionCapacity::availableBytes).toList(),
                "the capacity is what lvm reported and what the create did since");
    }

    @Test
    void aVolumeMadeByAnotherDriverProcessIsFoundNotRemadeOrRemoved() throws Exception {
        LvmDeviceManager m = f.started();
        LvmDeviceManager other = f.started();
        PmemVolume made = other.createVolume(request("pvc-a", 8 * MIB, 0));
        // The first process never saw it: neither its model nor a create of its own may lose it.
        assertEquals(made, m.createVolume(request("pvc-a", 8 * MIB, 0)));
        assertEquals(1, f.lvm.lvs.size());
        assertTrue(m.getVolume(made.id()).isPresent());
        m.deleteVolume(made.id(), false);
        assertTrue(f.lvm.lvs.isEmpty(), "the delete found it through lvm: " + f.lvm.lvs.keySet());
    }

    /**
     * What a crash between lvcreate and the end of the wipe leaves: a volume with all its tags and
     * the record of its pending create.
     */
    private PmemVolume interruptedCreate(LvmDeviceManager m, VolumeRequest req) throws Exception {
        PmemVolume v = m.createVolume(req);
        new PendingCreates(tmp.resolve("lvm/pending")).record(new PendingCreates.Pending(VG0,
                LvmNaming.logicalVolumeName(req.volumeId()), req.volumeId()));
        f.erased.clear();
        f.lvm.calls.clear();
        return v;
    }

    @Test
    void aCreateInterruptedBeforeItsWipeEndedIsRemovedAtStartAndNeverHandedOut() throws Exception {
        LvmDeviceManager m = f.started();
        VolumeRequest req = request("pvc-a", 8 * MIB, 0);
        interruptedCreate(m, req);
        assertTrue(m.getVolume(req.volumeId()).isEmpty(), "not handed out while its create is pending");
        assertTrue(m.listVolumes().isEmpty());
        assertEquals(List.of("unfinished create of volume " + req.volumeId() + " (removed by the next start or create)"),
                m.unmanagedExtents().stream().map(UnmanagedExtent::reason).toList());

        LvmDeviceManager restarted = f.started();
        assertTrue(f.lvm.lvs.isEmpty(), "removed at start: " + f.lvm.lvs.keySet());
        assertTrue(isEmptyDir(tmp.resolve("lvm/pending")));
        assertEquals(List.of(), f.erased, "it never held data: nothing to erase");
        PmemVolume v = restarted.createVolume(req);
        assertEquals(List.of("wipe " + req.volumeId() + " " + v.devicePath()), f.erased, "the new volume is wiped");
    }

    @Test
    void aRetriedCreateReplacesAVolumeWhoseCreateDidNotFinish() throws Exception {
        LvmDeviceManager m = f.started();
        VolumeRequest req = request("pvc-a", 8 * MIB, 0);
        interruptedCreate(m, req);
        PmemVolume v = m.createVolume(req);
        assertEquals(List.of("lvremove", "lvcreate"), f.lvm.commands(), "the unfinished one goes, a new one is made");
        assertEquals(List.of("wipe " + req.volumeId() + " " + v.devicePath()), f.erased);
        assertEquals(v, m.getVolume(req.volumeId()).orElseThrow());
        assertTrue(isEmptyDir(tmp.resolve("lvm/pending")));
    }

    @Test
    void aRecordWithoutItsVolumeIsDroppedAndATornRecordIgnored() throws Exception {
        f.started();
        PendingCreates pending = new PendingCreates(tmp.resolve("lvm/pending"));
        String id = VolumeIds.fromName("pvc-never");
        pending.record(new PendingCreates.Pending(VG0, LvmNaming.logicalVolumeName(id), id));
        java.nio.file.Files.writeString(tmp.resolve("lvm/pending/pmem.x.tmp"), "pmemcsi");
        f.lvm.calls.clear();
        f.started();
        assertEquals(List.of(), f.lvm.changes(), "lvcreate never ran: nothing to remove");
        assertTrue(isEmptyDir(tmp.resolve("lvm/pending")));
    }

    @Test
    void aFailedWipeRemovesTheNewVolume() throws Exception {
        LvmDeviceManager m = new LvmDeviceManager(LvmFixture.DRIVER, f.source(), f.config(), f.lvm,
                new dev.pmemcsi.device.VolumeEraser() {
                    @Override
                    public void erase(String volumeId, Path device) {
                    }

                    @Override
                    public void wipeSignatures(String volumeId, Path device) throws DeviceException {
                        throw new DeviceException("clearing old signatures failed: EIO");
                    }
                }, dev.pmemcsi.device.OperationListener.NONE, f.sysfs, p -> false);
        m.start();
        DeviceException e = assertThrows(DeviceException.class, () -> m.createVolume(request("pvc-a", 16 * MIB, 0)));
        assertEquals("clearing old signatures failed: EIO", e.getMessage());
        assertTrue(f.lvm.lvs.isEmpty(), "rolled back: " + f.lvm.lvs.keySet());
        assertTrue(isEmptyDir(tmp.resolve("lvm/pending")), "with its record");
    }

    @Test
    void anLvmFailureCarriesCommandExitCodeAndStderr() throws Exception {
        LvmDeviceManager m = f.started();
        f.lvm.failNext(c -> c.command().equals("lvcreate"), 5, "  Device-mapper: reload ioctl failed: Invalid argument\n"
                + "  Failed to activate new LV.\n");
        LvmException e = assertThrows(LvmException.class, () -> m.createVolume(request("pvc-a", 16 * MIB, 0)));
        assertEquals(5, e.exitCode());
        assertEquals("lvcreate", e.command().get(1));
        assertTrue(e.stderr().contains("Failed to activate new LV."));
        assertTrue(e.getMessage().endsWith("failed with exit code 5: Device-mapper: reload ioctl failed: Invalid argument;"
                + " Failed to activate new LV."), e.getMessage());
        assertTrue(e.getMessage().startsWith("lvm lvcreate --type linear"), e.getMessage());
    }

    // ---- delete

    @Test
    void deleteErasesWhenAskedOrRecordedAndRemoves() throws Exception {
        LvmDeviceManager m = f.started();
        PmemVolume keep = m.createVolume(request("pvc-plain", 8 * MIB, 0));
        PmemVolume recorded = m.createVolume(new VolumeRequest(VolumeIds.fromName("pvc-erase"), 8 * MIB, 0,
                VolumeMode.FSDAX, true, Map.of()));
        f.erased.clear();
        m.deleteVolume(keep.id(), false);
        assertEquals(List.of(), f.erased);
        m.deleteVolume(recorded.id(), false);
        assertEquals(List.of("erase " + recorded.id() + " " + recorded.devicePath()), f.erased);
        PmemVolume asked = m.createVolume(request("pvc-asked", 8 * MIB, 0));
        f.erased.clear();
        m.deleteVolume(asked.id(), true);
        assertEquals(List.of("erase " + asked.id() + " " + asked.devicePath()), f.erased);
        assertTrue(f.lvm.lvs.isEmpty());
        assertEquals(8 * GIB - 2 * 4 * MIB, m.capacity().availableBytes(), "all space is free again");
        m.deleteVolume(asked.id(), true); // gone: a no-op
    }

    @Test
    void aMountedVolumeIsRefusedBeforeAnythingChanges() throws Exception {
        LvmDeviceManager m = f.started();
        PmemVolume v = m.createVolume(request("pvc-a", 8 * MIB, 0));
        f.busy.add(v.devicePath().toString());
        f.lvm.calls.clear();
        assertThrows(VolumeInUseException.class, () -> m.deleteVolume(v.id(), true));
        assertEquals(List.of(), f.lvm.changes());
        assertEquals(v, m.getVolume(v.id()).orElseThrow());
    }

    @Test
    void aDeleteThatCannotFinishIsFinishedByARetryWithTheEraseItRecorded() throws Exception {
        LvmDeviceManager m = f.started();
        PmemVolume v = m.createVolume(request("pvc-a", 8 * MIB, 0));
        f.eraseRefused.add(v.devicePath().toString());
        assertThrows(VolumeInUseException.class, () -> m.deleteVolume(v.id(), true));
        FakeLvm.Lv lv = lvOf("pvc-a");
        assertTrue(lv.tags.contains(LvmFixture.DRIVER + "/state=deleting") && lv.tags.contains(LvmFixture.DRIVER + "/erase-on-delete"));
        assertTrue(m.getVolume(v.id()).isEmpty(), "a volume being deleted is no volume");
        assertEquals(List.of(), m.listVolumes());
        assertTrue(m.unmanagedExtents().get(0).reason().startsWith("unfinished delete of volume " + v.id()));

        f.eraseRefused.clear();
        f.erased.clear();
        m.deleteVolume(v.id(), false); // the recorded erase still happens
        assertEquals(List.of("erase " + v.id() + " " + v.devicePath()), f.erased);
        assertTrue(f.lvm.lvs.isEmpty());
    }

    @Test
    void aCreateOfAnIdWhoseDeleteDidNotFinishFinishesItFirst() throws Exception {
        LvmDeviceManager m = f.started();
        PmemVolume v = m.createVolume(request("pvc-a", 8 * MIB, 0));
        f.lvm.failNext(c -> c.command().equals("lvremove"), 5, "  Logical volume " + VG0 + "/x in use.");
        VolumeInUseException e = assertThrows(VolumeInUseException.class, () -> m.deleteVolume(v.id(), true));
        assertTrue(e.getMessage().contains("a retried delete finishes it"), e.getMessage());
        f.erased.clear();
        PmemVolume again = m.createVolume(request("pvc-a", 16 * MIB, 0));
        assertEquals(16 * MIB, again.capacityBytes());
        assertEquals(List.of("erase " + v.id() + " " + v.devicePath(), "wipe " + v.id() + " " + v.devicePath()), f.erased);
    }

    // ---- recovery at start

    @Test
    void startUndoesInterruptedCreatesAndFinishesInterruptedDeletes() throws Exception {
        LvmDeviceManager m = f.started();
        PmemVolume creating = m.createVolume(request("pvc-creating", 8 * MIB, 0));
        PmemVolume deleting = m.createVolume(request("pvc-deleting", 8 * MIB, 0));
        PmemVolume erasing = m.createVolume(request("pvc-erasing", 8 * MIB, 0));
        PmemVolume inactive = m.createVolume(request("pvc-inactive", 8 * MIB, 0));
        PmemVolume ready = m.createVolume(request("pvc-ready", 8 * MIB, 0));
        lvOf("pvc-creating").tags.add(LvmFixture.DRIVER + "/state=creating");
        lvOf("pvc-deleting").tags.add(LvmFixture.DRIVER + "/state=deleting");
        lvOf("pvc-erasing").tags.add(LvmFixture.DRIVER + "/state=deleting");
        lvOf("pvc-erasing").tags.add(LvmFixture.DRIVER + "/erase-on-delete");
        lvOf("pvc-erasing").active = false;
        lvOf("pvc-inactive").active = false;
        f.erased.clear();
        f.lvm.calls.clear();

        LvmDeviceManager restarted = f.started();
        assertEquals(List.of(inactive.id(), ready.id()).stream().sorted().toList(),
                restarted.listVolumes().stream().map(PmemVolume::id).toList());
        assertEquals(List.of("erase " + erasing.id() + " " + erasing.devicePath()), f.erased, "only the recorded erase");
        assertTrue(lvOf("pvc-inactive").active);
        assertEquals(2, f.lvm.lvs.size());
        assertEquals(List.of(), restarted.unmanagedExtents());
        assertTrue(restarted.getVolume(creating.id()).isEmpty() && restarted.getVolume(deleting.id()).isEmpty());
    }

    @Test
    void aDeleteThatStillCannotFinishAtStartIsLeftForARetry() throws Exception {
        LvmDeviceManager m = f.started();
        PmemVolume v = m.createVolume(request("pvc-a", 8 * MIB, 0));
        lvOf("pvc-a").tags.add(LvmFixture.DRIVER + "/state=deleting");
        f.busy.add(v.devicePath().toString());
        LvmDeviceManager restarted = f.started();
        assertTrue(restarted.isReady());
        assertEquals(1, restarted.unmanagedExtents().size());
        f.busy.clear();
        restarted.deleteVolume(v.id(), false);
        assertTrue(f.lvm.lvs.isEmpty());
    }

    @Test
    void logicalVolumesOfOthersInTheDriversGroupsAreNeverTouched() throws Exception {
        LvmDeviceManager m = f.started();
        String id = VolumeIds.fromName("pvc-theirs");
        FakeLvm.Lv theirs = new FakeLvm.Lv(LvmNaming.logicalVolumeName(id), VG0, 40 * MIB);
        theirs.tags.add(LvmFixture.DRIVER + "/id=" + id); // no owner tag
        f.lvm.lvs.put(theirs.full(), theirs);
        FakeLvm.Lv other = new FakeLvm.Lv("scratch", VG0, 20 * MIB);
        f.lvm.lvs.put(other.full(), other);
        LvmDeviceManager restarted = f.started();
        assertEquals(List.of(), restarted.listVolumes());
        restarted.deleteVolume(id, true);
        assertEquals(2, f.lvm.lvs.size());
        assertEquals(List.of("logical volume the driver does not own", "logical volume the driver does not own"),
                restarted.unmanagedExtents().stream().map(UnmanagedExtent::reason).toList());
        // Their space is neither free nor the driver's.
        RegionCapacity r0 = restarted.capacity().regions().get(0);
        assertEquals(0, r0.usedBytes());
        assertEquals(r0.totalBytes() - 60 * MIB, r0.availableBytes());
    }

    // ---- capacity

    @Test
    void availablePlusUsedIsTotalAndTheLargestVolumeIsTheLargestFreeSpace() throws Exception {
        LvmDeviceManager m = f.started();
        Capacity empty = m.capacity();
        long vgBytes = 4 * GIB - 4 * MIB; // data starts at 2 MiB; the last partial extent is unused
        // The technology is the pool device's: NVDIMM regions here.
        assertEquals(List.of(new RegionCapacity("region0", 0, 4 * MIB, vgBytes, vgBytes, vgBytes, 0, true, "nvdimm"),
                new RegionCapacity("region1", 1, 4 * MIB, vgBytes, vgBytes, vgBytes, 0, true, "nvdimm")), empty.regions());
        m.createVolume(request("pvc-a", 3 * GIB, 0));
        m.createVolume(request("pvc-b", 5 * MIB, 0));
        m.createVolume(request("pvc-c", GIB, 0));
        Capacity c = m.capacity();
        for (RegionCapacity r : c.regions()) {
            assertEquals(r.totalBytes(), r.availableBytes() + r.usedBytes(), r.toString());
        }
        assertEquals(3 * GIB + 8 * MIB + GIB, c.usedBytes());
        assertEquals(c.totalBytes() - c.usedBytes(), c.availableBytes());
        Capacity.Requestable fsdax = c.requestable(VolumeMode.FSDAX);
        assertEquals(c.availableBytes(), fsdax.availableBytes(), "an LV's whole size is usable");
        assertEquals(vgBytes - GIB, fsdax.maxVolumeBytes(), "region1, which holds only pvc-c");
        assertEquals(4 * MIB, fsdax.minVolumeBytes());
        // What GetCapacity promises can be created.
        PmemVolume largest = m.createVolume(request("pvc-max", fsdax.maxVolumeBytes(), 0));
        assertEquals(fsdax.maxVolumeBytes(), largest.capacityBytes());
    }

    // ---- growth

    @Test
    void volumesGrowOnlineInPlaceToWholeExtents() throws Exception {
        LvmDeviceManager m = f.started();
        assertEquals(DeviceManager.Expansion.ONLINE, m.expansion());
        PmemVolume v = m.createVolume(request("pvc-a", 8 * MIB, 0));
        f.lvm.calls.clear();
        PmemVolume grown = m.expandVolume(v.id(), 21 * MIB, 0, true);
        assertEquals(24 * MIB, grown.capacityBytes());
        assertEquals(24 * MIB, grown.usableBytes());
        assertEquals(v.devicePath(), grown.devicePath());
        assertEquals(List.of("--size", (24 * MIB) + "b", VG0 + "/" + lvOf("pvc-a").name),
                f.lvm.calls.stream().filter(c -> c.command().equals("lvextend")).findFirst().orElseThrow().args());
        assertEquals(grown, m.getVolume(v.id()).orElseThrow());

        f.lvm.calls.clear();
        assertEquals(grown, m.expandVolume(v.id(), 10 * MIB, 0, true), "a smaller request is no shrink");
        assertEquals(grown, m.expandVolume(v.id(), 0, 0, false));
        assertEquals(List.of(), f.lvm.changes());
    }

    @Test
    void growthWithALimitRecordsTheNewCapacity() throws Exception {
        LvmDeviceManager m = f.started();
        PmemVolume v = m.createVolume(request("pvc-a", 5 * MIB, 6 * MIB));
        assertEquals(6 * MIB, v.capacityBytes());
        PmemVolume g = m.expandVolume(v.id(), 7 * MIB, 0, false);
        assertEquals(8 * MIB, g.capacityBytes(), "the extent already held it: no lvextend, the tag goes");
        assertTrue(f.lvm.calls.stream().noneMatch(c -> c.command().equals("lvextend")));
        assertEquals(List.of(), lvOf("pvc-a").tags.stream().filter(t -> t.contains("capacity")).toList());
        PmemVolume h = m.expandVolume(v.id(), 9 * MIB, 10 * MIB, false);
        assertEquals(10 * MIB, h.capacityBytes());
        assertEquals(12 * MIB, h.usableBytes());
        assertEquals(List.of(LvmFixture.DRIVER + "/capacity=" + 10 * MIB),
                lvOf("pvc-a").tags.stream().filter(t -> t.contains("capacity")).toList());
    }

    @Test
    void aGrowthInterruptedAfterLvextendIsFinishedByTheRetry() throws Exception {
        LvmDeviceManager m = f.started();
        PmemVolume v = m.createVolume(request("pvc-a", 5 * MIB, 6 * MIB));
        f.lvm.failNext(c -> c.command().equals("lvchange"), 5, "  lvchange died");
        assertThrows(LvmException.class, () -> m.expandVolume(v.id(), 14 * MIB, 15 * MIB, true));
        assertEquals(16 * MIB, lvOf("pvc-a").size);
        assertEquals(6 * MIB, m.getVolume(v.id()).orElseThrow().capacityBytes(), "the old capacity until the tag follows");
        f.lvm.calls.clear();
        PmemVolume g = m.expandVolume(v.id(), 14 * MIB, 15 * MIB, true);
        assertEquals(15 * MIB, g.capacityBytes());
        assertTrue(f.lvm.calls.stream().noneMatch(c -> c.command().equals("lvextend")));
    }

    @Test
    void growthRefusals() throws Exception {
        LvmDeviceManager m = f.started();
        PmemVolume v = m.createVolume(request("pvc-a", 8 * MIB, 0));
        m.createVolume(request("pvc-filler", 3 * GIB, 0));
        assertThrows(VolumeNotFoundException.class, () -> m.expandVolume(VolumeIds.fromName("pvc-none"), GIB, 0, false));
        assertThrows(OutOfRangeException.class, () -> m.expandVolume(v.id(), 20 * MIB, 10 * MIB, false));
        OutOfRangeException big = assertThrows(OutOfRangeException.class, () -> m.expandVolume(v.id(), 5 * GIB, 0, false));
        assertTrue(big.getMessage().contains("it stays in volume group " + VG0), big.getMessage());
        NoSpaceException e = assertThrows(NoSpaceException.class, () -> m.expandVolume(v.id(), 2 * GIB, 0, true));
        assertTrue(e.getMessage().contains("Insufficient free space"), e.getMessage());
        assertEquals(8 * MIB, m.getVolume(v.id()).orElseThrow().capacityBytes());
    }

    // ---- health

    @Test
    void healthFollowsLvmsAttributes() throws Exception {
        LvmDeviceManager m = f.started();
        PmemVolume v = m.createVolume(request("pvc-a", 8 * MIB, 0));
        VolumeHealth h = m.volumeHealth(v.id());
        assertTrue(h.abnormal(), "the fake's device node does not exist");
        assertTrue(h.message().startsWith("device " + v.devicePath()), h.message());
        lvOf("pvc-a").active = false;
        assertEquals("logical volume " + VG0 + "/" + lvOf("pvc-a").name + " is not active", m.volumeHealth(v.id()).message());
        assertThrows(VolumeNotFoundException.class, () -> m.volumeHealth(VolumeIds.fromName("pvc-none")));
        assertEquals(Map.of("region0", 0L, "region1", 0L), m.deviceHealth().regionBadBlocks());
        assertEquals(List.of(), m.deviceHealth().dimms());
    }

    @Test
    void skippedRegionsOfThePoolSourceAreReported() throws Exception {
        f.skipped.add(new PoolDevices.SkippedRegion("region7", "ndbus1", "holds direct-mode volumes"));
        LvmDeviceManager m = f.started();
        UnmanagedExtent u = m.unmanagedExtents().get(0);
        assertEquals("region7", u.region());
        assertEquals("not pooled: holds direct-mode volumes", u.reason());
    }

    private static boolean isEmptyDir(Path dir) throws java.io.IOException {
        try (var files = java.nio.file.Files.list(dir)) {
            return files.findAny().isEmpty();
        }
    }
}
