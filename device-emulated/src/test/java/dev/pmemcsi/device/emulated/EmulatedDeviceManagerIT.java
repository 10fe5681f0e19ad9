package dev.pmemcsi.device.emulated;

import static dev.pmemcsi.device.emulated.EmulatedFixture.ALIGN;
import static dev.pmemcsi.device.emulated.EmulatedFixture.MIB;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.Capacity;
import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.DeviceBusyException;
import dev.pmemcsi.device.DeviceHealth;
import dev.pmemcsi.device.NoSpaceException;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.OutOfRangeException;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.RegionCapacity;
import dev.pmemcsi.device.UnmanagedExtent;
import dev.pmemcsi.device.VolumeAccess;
import dev.pmemcsi.device.VolumeExistsException;
import dev.pmemcsi.device.VolumeHealth;
import dev.pmemcsi.device.VolumeInUseException;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeNotFoundException;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.pmemnative.BlockDevice;
import dev.pmemcsi.pmemnative.CommandRunner;
import dev.pmemcsi.pmemnative.Native;
import dev.pmemcsi.pmemnative.loop.LoopDevice;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real loop devices over real sparse files; needs root. */
class EmulatedDeviceManagerIT {

    private static final long REGION = 512 * MIB;

    @TempDir
    Path dir;
    private EmulatedFixture fx;

    @BeforeEach
    void setUp() {
        fx = new EmulatedFixture(dir.resolve("pmem"), List.of(REGION, REGION));
    }

    @AfterEach
    void clean() throws Exception {
        fx.verifyCleanAndClose();
    }

    private static VolumeRequest req(String id, long bytes, VolumeMode mode) {
        return new VolumeRequest(id, bytes, 0, mode, false, Map.of("name", id));
    }

    @Test
    void createListDelete() throws Exception {
        EmulatedDeviceManager m = fx.started();
        assertTrue(m.isReady());
        assertEquals("emulated", m.backendName());
        assertTrue(Files.exists(fx.dir.resolve("region0.img")) && Files.exists(fx.dir.resolve("region1.img")));
        assertEquals(REGION, Files.size(fx.dir.resolve("region0.img")));

        PmemVolume a = m.createVolume(req("vol-a", 100 * MIB, VolumeMode.FSDAX));
        PmemVolume b = m.createVolume(req("vol-b", 50 * MIB, VolumeMode.SECTOR));
        for (PmemVolume v : List.of(a, b)) {
            assertEquals(CapacityMath.rawBytesFor(v.mode(), v.id().equals("vol-a") ? 100 * MIB : 50 * MIB, ALIGN), v.allocatedBytes());
            assertEquals(CapacityMath.usableBytes(v.mode(), v.allocatedBytes()), v.usableBytes());
            assertFalse(v.daxCapable());
            try (BlockDevice bd = BlockDevice.open(v.devicePath(), false)) {
                assertEquals(v.usableBytes(), bd.sizeBytes(), "device size is the usable size of the mode");
            }
        }
        assertEquals(Map.of("name", "vol-a"), a.attributes());
        assertEquals(List.of(a, b), m.listVolumes());
        assertEquals(Optional.of(a), m.getVolume("vol-a"));
        assertEquals(Optional.empty(), m.getVolume("nope"));
        assertEquals(a.allocatedBytes() + b.allocatedBytes(), m.capacity().usedBytes());

        m.deleteVolume("vol-a", false);
        m.deleteVolume("vol-a", false); // unknown ID: no-op
        m.deleteVolume("vol-b", true);
        assertEquals(List.of(), m.listVolumes());
        assertEquals(List.of(), fx.loopsOfDir());
        Capacity c = m.capacity();
        assertEquals(0, c.usedBytes());
        assertEquals(2 * REGION, c.availableBytes());
        assertEquals(REGION, c.maxVolumeBytes());
    }

    @Test
    void createsDeletesAndErasesAreReportedToTheListener() throws Exception {
        List<String> reported = new java.util.concurrent.CopyOnWriteArrayList<>();
        OperationListener listener = (kind, subject) -> failure -> reported.add(kind + " " + subject + ": "
                + (failure == null ? "ok" : failure.getClass().getSimpleName()));
        EmulatedDeviceManager m = fx.manager(listener);
        m.start();
        PmemVolume v = m.createVolume(req("timed", 64 * MIB, VolumeMode.FSDAX));
        assertThrows(NoSpaceException.class, () -> m.createVolume(req("huge", REGION, VolumeMode.FSDAX)));
        m.deleteVolume("timed", true);
        assertEquals(List.of(
                "CREATE volume timed: ok",
                "CREATE volume huge: NoSpaceException",
                "ERASE volume timed (" + v.allocatedBytes() + " bytes of " + v.region() + "): ok",
                "DELETE volume timed: ok"), reported);
    }

    @Test
    void createIsIdempotentAndChecksSizes() throws Exception {
        EmulatedDeviceManager m = fx.started();
        PmemVolume v = m.createVolume(req("vol", 64 * MIB, VolumeMode.FSDAX));
        assertEquals(v, m.createVolume(req("vol", 64 * MIB, VolumeMode.FSDAX)));
        assertEquals(v, m.createVolume(new VolumeRequest("vol", 10 * MIB, v.usableBytes(), VolumeMode.FSDAX, false, Map.of())));
        assertThrows(VolumeExistsException.class, () -> m.createVolume(req("vol", 64 * MIB, VolumeMode.SECTOR)));
        assertThrows(VolumeExistsException.class, () -> m.createVolume(req("vol", v.usableBytes() + 1, VolumeMode.FSDAX)));
        assertThrows(VolumeExistsException.class,
                () -> m.createVolume(new VolumeRequest("vol", MIB, v.usableBytes() - 1, VolumeMode.FSDAX, false, Map.of())));
        assertThrows(OutOfRangeException.class,
                () -> m.createVolume(new VolumeRequest("other", 1, 4096, VolumeMode.FSDAX, false, Map.of())));
        assertThrows(NoSpaceException.class, () -> m.createVolume(req("huge", REGION, VolumeMode.FSDAX)));
        assertEquals(List.of(v), m.listVolumes());
        assertEquals(1, fx.loopsOfDir().size());
        m.deleteVolume("vol", false);
    }

    @Test
    void anExactSizeIsTheCapacityAndItAndTheUseSurviveARestart() throws Exception {
        EmulatedDeviceManager first = fx.started();
        VolumeRequest exact = new VolumeRequest("exact", 64 * MIB, 64 * MIB, VolumeMode.FSDAX, false, Map.of(),
                VolumeAccess.filesystem(VolumeAccess.XFS));
        PmemVolume v = first.createVolume(exact);
        assertEquals(64 * MIB, v.capacityBytes());
        assertTrue(v.usableBytes() > v.capacityBytes(), "the device is whole allocation units: " + v);
        try (BlockDevice bd = BlockDevice.open(v.devicePath(), false)) {
            assertEquals(v.usableBytes(), bd.sizeBytes(), "a raw block user sees the whole device");
        }
        assertEquals(v, first.createVolume(exact));
        assertThrows(VolumeExistsException.class, () -> first.createVolume(new VolumeRequest("exact", 64 * MIB,
                64 * MIB, VolumeMode.FSDAX, false, Map.of(), VolumeAccess.filesystem(VolumeAccess.EXT4))));
        first.close();

        EmulatedDeviceManager second = fx.started();
        PmemVolume again = second.getVolume("exact").orElseThrow();
        assertEquals(64 * MIB, again.capacityBytes());
        assertEquals(VolumeAccess.filesystem(VolumeAccess.XFS), again.access());
        assertEquals(v, again);
        second.deleteVolume("exact", false);
    }

    @Test
    void defaultSizeWhenNoneIsRequested() throws Exception {
        fx = new EmulatedFixture(dir.resolve("big"), List.of(2048 * MIB));
        EmulatedDeviceManager m = fx.started();
        PmemVolume v = m.createVolume(new VolumeRequest("dflt", 0, 0, VolumeMode.FSDAX, false, Map.of()));
        assertTrue(v.usableBytes() >= CapacityMath.DEFAULT_VOLUME_BYTES);
        assertEquals(CapacityMath.rawBytesFor(VolumeMode.FSDAX, CapacityMath.DEFAULT_VOLUME_BYTES, ALIGN), v.allocatedBytes());
        m.deleteVolume("dflt", false);
    }

    @Test
    void placementIsBestFit() throws Exception {
        EmulatedDeviceManager m = fx.started();
        m.createVolume(req("a", 14 * MIB, VolumeMode.FSDAX));   // 16 MiB raw
        m.createVolume(req("b", 30 * MIB, VolumeMode.FSDAX));   // 32 MiB raw
        m.createVolume(req("c", 14 * MIB, VolumeMode.FSDAX));
        m.deleteVolume("b", false);                              // a 32 MiB hole in region0
        PmemVolume d = m.createVolume(req("d", 30 * MIB, VolumeMode.FSDAX));
        assertEquals("region0", d.region());
        assertEquals(16 * MIB, fx.row("d").offset(), "the hole, not the large free extents");
        for (String id : List.of("a", "c", "d")) {
            m.deleteVolume(id, false);
        }
    }

    @Test
    void deleteOfAMountedOrExclusivelyOpenDeviceFails() throws Exception {
        EmulatedDeviceManager m = fx.started();
        PmemVolume v = m.createVolume(req("busy", 64 * MIB, VolumeMode.FSDAX));
        try (BlockDevice holder = BlockDevice.open(v.devicePath(), true)) {
            assertThrows(VolumeInUseException.class, () -> m.deleteVolume("busy", true));
        }
        new CommandRunner().run(List.of("mkfs.ext4", "-q", "-F", v.devicePath().toString()), Duration.ofMinutes(1));
        Path target = Files.createDirectories(dir.resolve("mnt"));
        Native.check(Native.libc().mount(v.devicePath().toString(), target.toString(), "ext4", 0, null), "mount");
        try {
            assertThrows(VolumeInUseException.class, () -> m.deleteVolume("busy", true));
            assertEquals(List.of(v), m.listVolumes());
            assertEquals("READY", fx.row("busy").state().name());
        } finally {
            Native.check(Native.libc().umount2(target.toString(), 0), "umount");
        }
        m.deleteVolume("busy", true);
        assertEquals(List.of(), m.listVolumes());
    }

    /**
     * A delete whose device another process keeps open gives up after a while (ABORTED above);
     * once that process lets go, a retried delete, or a create of the same ID, finishes it: the
     * extent is erased and free, the row is gone.
     */
    @Test
    void aDeleteThatGaveUpIsFinishedByARetryOrByTheNextCreateOfTheId() throws Exception {
        EmulatedDeviceManager m = fx.started();
        long available = m.capacity().availableBytes();
        for (boolean retryDelete : new boolean[] {true, false}) {
            PmemVolume v = m.createVolume(req("held", 64 * MIB, VolumeMode.FSDAX));
            VolumeRecord row = fx.row("held");
            EmulatedFixture.write(v.devicePath(), 0, EmulatedFixture.pattern(3, (int) MIB));
            try (BlockDevice holder = BlockDevice.open(v.devicePath(), false)) {
                assertThrows(DeviceBusyException.class, () -> m.deleteVolume("held", true));
            }
            assertEquals(Optional.empty(), m.getVolume("held"), "a volume being deleted is not handed out");
            assertEquals("DELETING", fx.row("held").state().name());
            if (retryDelete) {
                m.deleteVolume("held", false);
                assertEquals(null, fx.row("held"), "the retried delete dropped the row");
                assertEquals(available, m.capacity().availableBytes(), "and freed the extent");
            } else {
                PmemVolume again = m.createVolume(req("held", 64 * MIB, VolumeMode.FSDAX));
                assertEquals("READY", fx.row("held").state().name());
                assertTrue(EmulatedFixture.allZero(again.devicePath(), 0, again.usableBytes()), "a fresh volume");
                m.deleteVolume("held", false);
            }
            assertTrue(EmulatedFixture.allZero(fx.dir.resolve(row.region() + ".img"), row.offset(), row.rawBytes()),
                    "the erase recorded by the first attempt was done");
            assertEquals(List.of(), fx.loopsOfDir());
        }
    }

    @Test
    void aNewInstanceRecoversEveryVolume() throws Exception {
        EmulatedDeviceManager first = fx.started();
        PmemVolume a = first.createVolume(req("keep-a", 40 * MIB, VolumeMode.FSDAX));
        PmemVolume b = first.createVolume(req("keep-b", 40 * MIB, VolumeMode.SECTOR));
        byte[] data = EmulatedFixture.pattern(1, (int) MIB);
        EmulatedFixture.write(a.devicePath(), 3 * MIB, data);
        first.close();
        assertFalse(first.isReady());

        // Driver restart: the loop devices are still there and are reused.
        EmulatedDeviceManager second = fx.started();
        assertEquals(List.of(a, b), second.listVolumes());
        assertEquals(2, fx.loopsOfDir().size());
        second.close();

        // Host reboot: the loop devices are gone and come back, possibly under other numbers.
        for (LoopDevice l : fx.loopsOfDir()) {
            assertTrue(fx.loops.detach(l, Duration.ofSeconds(10)));
        }
        EmulatedDeviceManager third = fx.started();
        List<PmemVolume> recovered = third.listVolumes();
        assertEquals(List.of("keep-a", "keep-b"), recovered.stream().map(PmemVolume::id).toList());
        assertEquals(a.usableBytes(), recovered.get(0).usableBytes());
        assertArrayEquals(data, EmulatedFixture.read(recovered.get(0).devicePath(), 3 * MIB, (int) MIB));
        try (BlockDevice bd = BlockDevice.open(recovered.get(1).devicePath(), false)) {
            assertEquals(b.usableBytes(), bd.sizeBytes());
        }
        third.deleteVolume("keep-a", false);
        third.deleteVolume("keep-b", false);
    }

    @Test
    void oneDirectoryServesOneInstance() throws Exception {
        EmulatedDeviceManager first = fx.started();
        EmulatedDeviceManager second = fx.manager();
        DeviceBusyException e = assertThrows(DeviceBusyException.class, second::start);
        assertTrue(e.getMessage().contains("in use"), e.getMessage());
        assertFalse(second.isReady());
        assertThrows(DeviceBusyException.class, () -> second.createVolume(req("x", MIB, VolumeMode.FSDAX)));
        first.close();
        second.start();
        assertTrue(second.isReady());
    }

    @Test
    void strayDevicesOfTheDriverAreDetachedAndForeignOnesReported() throws Exception {
        EmulatedDeviceManager first = fx.started();
        first.close();
        Path region0 = fx.dir.resolve("region0.img");
        LoopDevice stray = fx.loops.attach(region0, 32 * MIB, 16 * MIB, Recovery.label("forgotten"));
        LoopDevice foreign = fx.loops.attach(region0, 0, 20 * MIB, "");
        try {
            EmulatedDeviceManager m = fx.started();
            assertFalse(fx.loops.isBound(stray.number()), "a labelled device matching no volume is detached");
            assertTrue(fx.loops.isBound(foreign.number()), "a foreign device is left alone");
            List<UnmanagedExtent> unmanaged = m.unmanagedExtents();
            assertEquals(1, unmanaged.size());
            assertEquals(new UnmanagedExtent("region0", foreign.device().toString(), 0, 20 * MIB,
                    "loop device over the region file not created by the driver"), unmanaged.get(0));
            RegionCapacity r0 = m.capacity().regions().get(0);
            assertEquals(REGION - 32 * MIB, r0.availableBytes(), "the foreign range is not free (rounded to units)");
            assertEquals(0, r0.usedBytes());
            PmemVolume v = m.createVolume(req("after", 14 * MIB, VolumeMode.FSDAX));
            assertEquals(32 * MIB, fx.row("after").offset(), "allocation skips the foreign range");
            m.deleteVolume(v.id(), false);
        } finally {
            fx.loops.detach(foreign, Duration.ofSeconds(10));
            fx.loops.detach(stray, Duration.ofSeconds(10));
        }
    }

    @Test
    void faultFilesShowInHealth() throws Exception {
        EmulatedDeviceManager m = fx.started();
        m.createVolume(req("sick", 20 * MIB, VolumeMode.FSDAX));
        m.createVolume(req("well", 20 * MIB, VolumeMode.FSDAX));
        assertEquals(VolumeHealth.ok(), m.volumeHealth("sick"));
        assertThrows(VolumeNotFoundException.class, () -> m.volumeHealth("nope"));

        Files.writeString(fx.dir.resolve("faults/sick.badblocks"), "7\n");
        VolumeHealth h = m.volumeHealth("sick");
        assertTrue(h.abnormal());
        assertEquals(7, h.badBlocks());
        assertTrue(h.message().contains("7 bad blocks"), h.message());
        DeviceHealth dh = m.deviceHealth();
        assertEquals(Map.of("region0", 7L, "region1", 0L), dh.regionBadBlocks());
        assertEquals(List.of(), dh.dimms());

        Files.writeString(fx.dir.resolve("faults/well.gone"), "");
        VolumeHealth gone = m.volumeHealth("well");
        assertTrue(gone.abnormal());
        assertTrue(gone.message().contains("disappeared"), gone.message());

        m.deleteVolume("sick", false);
        m.deleteVolume("well", false);
        assertFalse(Files.exists(fx.dir.resolve("faults/sick.badblocks")), "faults go with the volume");
        assertFalse(Files.exists(fx.dir.resolve("faults/well.gone")));
        m.createVolume(req("sick", 20 * MIB, VolumeMode.FSDAX));
        assertEquals(VolumeHealth.ok(), m.volumeHealth("sick"));
        m.deleteVolume("sick", false);
    }

    @Test
    void aDeviceDetachedBehindTheDriversBackIsAbnormal() throws Exception {
        EmulatedDeviceManager m = fx.started();
        PmemVolume v = m.createVolume(req("lost", 20 * MIB, VolumeMode.FSDAX));
        LoopDevice l = fx.loopsOfDir().get(0);
        assertTrue(fx.loops.detach(l, Duration.ofSeconds(10)));
        VolumeHealth h = m.volumeHealth("lost");
        assertTrue(h.abnormal());
        assertTrue(h.message().contains(v.devicePath().toString()), h.message());
        m.deleteVolume("lost", false);
        assertEquals(List.of(), m.listVolumes());
    }

    @Test
    void aDeletedVolumesBytesNeverReachTheNextVolume() throws Exception {
        EmulatedDeviceManager m = fx.started();
        PmemVolume v = m.createVolume(req("secret", 64 * MIB, VolumeMode.FSDAX));
        VolumeRecord row = fx.row("secret");
        byte[] data = EmulatedFixture.pattern(42, (int) (4 * MIB));
        for (long off = 0; off + data.length <= v.usableBytes(); off += 8 * MIB) {
            EmulatedFixture.write(v.devicePath(), off, data);
        }
        Path region = fx.dir.resolve(row.region() + ".img");
        assertFalse(EmulatedFixture.allZero(region, row.offset(), row.rawBytes()));
        m.deleteVolume("secret", true);
        assertTrue(EmulatedFixture.allZero(region, row.offset(), row.rawBytes()), "the whole extent, metadata included");

        PmemVolume next = m.createVolume(req("next", 64 * MIB, VolumeMode.FSDAX));
        assertEquals(row.offset(), fx.row("next").offset());
        assertEquals(row.region(), next.region());
        assertTrue(EmulatedFixture.allZero(next.devicePath(), 0, next.usableBytes()));
        m.deleteVolume("next", false);
    }

    @Test
    void stormOfConcurrentCreatesAndDeletes() throws Exception {
        EmulatedDeviceManager m = fx.started();
        int threads = 6;
        int opsPerThread = 25;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Integer>> results = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int seed = t;
                results.add(pool.submit(() -> {
                    Random rnd = new Random(seed);
                    int noSpace = 0;
                    for (int op = 0; op < opsPerThread; op++) {
                        // Few IDs, shared between threads: creates and deletes of one ID race too.
                        String id = "storm-" + rnd.nextInt(12);
                        if (rnd.nextInt(3) == 0) {
                            m.deleteVolume(id, rnd.nextBoolean());
                        } else {
                            VolumeMode mode = rnd.nextBoolean() ? VolumeMode.FSDAX : VolumeMode.SECTOR;
                            try {
                                m.createVolume(new VolumeRequest(id, (1 + rnd.nextInt(60)) * MIB, 0, mode, false, Map.of()));
                            } catch (NoSpaceException e) {
                                noSpace++;
                            } catch (VolumeExistsException e) {
                                // the ID exists with another size or mode: expected in a storm
                            }
                        }
                    }
                    return noSpace;
                }));
            }
            for (Future<Integer> f : results) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        List<PmemVolume> volumes = m.listVolumes();
        List<LoopDevice> loops = fx.loopsOfDir();
        assertEquals(volumes.size(), loops.size(), "one loop device per volume");
        assertEquals(volumes.stream().map(PmemVolume::devicePath).sorted().toList(), loops.stream().map(LoopDevice::device).sorted().toList());
        assertEquals(volumes.size(), fx.table().size(), "no half-finished rows");
        assertEquals(List.of(), Recovery.validate(fx.table(), Map.of("region0", REGION, "region1", REGION)));
        for (RegionCapacity c : m.capacity().regions()) {
            long used = volumes.stream().filter(v -> v.region().equals(c.region())).mapToLong(PmemVolume::allocatedBytes).sum();
            assertEquals(used, c.usedBytes());
            assertEquals(c.totalBytes() / ALIGN, c.usedBytes() / ALIGN + c.availableBytes() / ALIGN, c.toString());
        }
        for (PmemVolume v : volumes) {
            try (BlockDevice bd = BlockDevice.open(v.devicePath(), false)) {
                assertEquals(v.usableBytes(), bd.sizeBytes());
            }
        }
        // The same state survives a restart.
        m.close();
        EmulatedDeviceManager again = fx.started();
        assertEquals(volumes, again.listVolumes());
        for (PmemVolume v : volumes) {
            again.deleteVolume(v.id(), false);
        }
    }
}
