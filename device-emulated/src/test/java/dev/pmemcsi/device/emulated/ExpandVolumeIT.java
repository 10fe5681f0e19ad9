package dev.pmemcsi.device.emulated;

import static dev.pmemcsi.device.emulated.EmulatedFixture.ALIGN;
import static dev.pmemcsi.device.emulated.EmulatedFixture.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.Capacity;
import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.NoSpaceException;
import dev.pmemcsi.device.OutOfRangeException;
import dev.pmemcsi.device.PmemVolume;
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
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Growth of volumes on real loop devices, with ext4 mounted on them; needs root. */
class ExpandVolumeIT {

    private static final long REGION = 512 * MIB;

    @TempDir
    Path dir;
    private EmulatedFixture fx;

    @BeforeEach
    void setUp() {
        fx = new EmulatedFixture(dir.resolve("pmem"), List.of(REGION));
    }

    @AfterEach
    void clean() throws Exception {
        fx.verifyCleanAndClose();
    }

    static VolumeRequest req(String id, long bytes) {
        return new VolumeRequest(id, bytes, 0, VolumeMode.FSDAX, false, Map.of());
    }

    /** An ext4 on the device, mounted, with a file of random data; the file's checksum. */
    static String mountWithData(Path device, Path target, long seed) throws Exception {
        new CommandRunner().run(List.of("mkfs.ext4", "-q", "-F", device.toString()), Duration.ofMinutes(1));
        Files.createDirectories(target);
        Native.check(Native.libc().mount(device.toString(), target.toString(), "ext4", 0, null), "mount");
        byte[] data = EmulatedFixture.pattern(seed, (int) (8 * MIB));
        EmulatedFixture.write(Files.createFile(target.resolve("data")), 0, data);
        return sha256(data);
    }

    static String sha256(byte[] data) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    }

    /** The checksum of the file, read after the page cache was dropped so that it comes from the device. */
    static String checksumFromDevice(Path target) throws Exception {
        Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "1");
        return sha256(Files.readAllBytes(target.resolve("data")));
    }

    static void unmount(Path target) throws Exception {
        Native.check(Native.libc().umount2(target.toString(), 0), "umount");
    }

    static void assertExact(Capacity c, long usedBytes) {
        assertEquals(usedBytes, c.usedBytes());
        assertEquals(c.totalBytes(), c.availableBytes() + c.usedBytes(), "available + used = total");
    }

    @Test
    void aMountedExt4GrowsInPlaceWithItsData() throws Exception {
        EmulatedDeviceManager m = fx.started();
        assertEquals(DeviceManager.Expansion.ONLINE, m.expansion());
        PmemVolume v = m.createVolume(req("grow", 64 * MIB));
        Path target = dir.resolve("mnt");
        String sum = mountWithData(v.devicePath(), target, 42);
        try {
            long blocksBefore = Files.getFileStore(target).getTotalSpace();
            PmemVolume g = m.expandVolume("grow", 200 * MIB, 0, true);

            assertEquals(v.devicePath(), g.devicePath(), "grown in place on the same device");
            assertEquals(CapacityMath.rawBytesFor(VolumeMode.FSDAX, 200 * MIB, ALIGN), g.allocatedBytes());
            assertTrue(g.capacityBytes() >= 200 * MIB, "capacity " + g.capacityBytes());
            assertEquals(BlockDevice.sizeOf(g.devicePath()), g.usableBytes(), "BLKGETSIZE64 shows the new size");
            assertEquals(g, m.getVolume("grow").orElseThrow());
            assertExact(m.capacity(), g.allocatedBytes());
            VolumeRecord row = fx.row("grow");
            assertEquals(g.allocatedBytes(), row.rawBytes());
            VolumeRecord label = ExtentLabel.read(fx.dir.resolve("region0.img"), row, REGION, ALIGN).orElseThrow();
            assertEquals(List.of(row.rawBytes(), row.usableBytes()), List.of(label.rawBytes(), label.usableBytes()),
                    "the label carries the grown row");

            // ext4's online resize needs CAP_SYS_RESOURCE, which some containers drop; xfs (below) needs
            // only CAP_SYS_ADMIN.
            if (hasCapability(CAP_SYS_RESOURCE)) {
                new CommandRunner().run(List.of("resize2fs", v.devicePath().toString()), Duration.ofMinutes(1));
                assertTrue(Files.getFileStore(target).getTotalSpace() > blocksBefore + 100 * MIB, "the filesystem grew online");
            } else {
                System.err.println("ExpandVolumeIT: no CAP_SYS_RESOURCE, resize2fs of the mounted ext4 not tried");
            }
            assertEquals(sum, checksumFromDevice(target));
            EmulatedFixture.write(target.resolve("data"), 0, EmulatedFixture.pattern(43, (int) MIB));
            Native.check(Native.libc().umount2(target.toString(), 0), "umount");
            new CommandRunner().run(List.of("e2fsck", "-f", "-n", v.devicePath().toString()), Duration.ofMinutes(1));
            Native.check(Native.libc().mount(v.devicePath().toString(), target.toString(), "ext4", 0, null), "mount");

            // Asking again for what it has is a no-op.
            assertEquals(g, m.expandVolume("grow", 150 * MIB, 0, true));
            assertEquals(g, m.expandVolume("grow", 0, 0, true));
        } finally {
            unmount(target);
        }
        m.close();
        // A restart keeps the grown size and device.
        EmulatedDeviceManager again = fx.started();
        PmemVolume after = again.getVolume("grow").orElseThrow();
        assertEquals(BlockDevice.sizeOf(after.devicePath()), after.usableBytes());
        assertEquals(CapacityMath.rawBytesFor(VolumeMode.FSDAX, 200 * MIB, ALIGN), after.allocatedBytes());
        again.deleteVolume("grow", true);
        assertExact(again.capacity(), 0);
    }

    @Test
    void aMountedXfsGrowsOnlineWithItsData() throws Exception {
        EmulatedDeviceManager m = fx.started();
        // mkfs.xfs wants at least 300 MB.
        PmemVolume v = m.createVolume(req("xfs", 320 * MIB));
        Path target = dir.resolve("mnt-xfs");
        new CommandRunner().run(List.of("mkfs.xfs", "-q", "-f", v.devicePath().toString()), Duration.ofMinutes(1));
        Files.createDirectories(target);
        Native.check(Native.libc().mount(v.devicePath().toString(), target.toString(), "xfs", 0, null), "mount");
        try {
            byte[] data = EmulatedFixture.pattern(44, (int) (8 * MIB));
            EmulatedFixture.write(Files.createFile(target.resolve("data")), 0, data);
            long before = Files.getFileStore(target).getTotalSpace();
            PmemVolume g = m.expandVolume("xfs", 480 * MIB, 0, true);
            assertEquals(v.devicePath(), g.devicePath());
            assertEquals(BlockDevice.sizeOf(g.devicePath()), g.usableBytes());
            new CommandRunner().run(List.of("xfs_growfs", target.toString()), Duration.ofMinutes(1));
            assertTrue(Files.getFileStore(target).getTotalSpace() > before + 100 * MIB, "the filesystem grew online");
            assertEquals(sha256(data), checksumFromDevice(target));
            assertExact(m.capacity(), g.allocatedBytes());
        } finally {
            unmount(target);
        }
        m.deleteVolume("xfs", true);
    }

    private static final int CAP_SYS_RESOURCE = 24;

    static boolean hasCapability(int cap) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("CapEff:")) {
                return (Long.parseLong(line.substring(7).strip(), 16) & (1L << cap)) != 0;
            }
        }
        return false;
    }

    @Test
    void refusalsSayWhyAndChangeNothing() throws Exception {
        EmulatedDeviceManager m = fx.started();
        PmemVolume a = m.createVolume(req("a", 40 * MIB));
        PmemVolume b = m.createVolume(req("b", 40 * MIB));
        VolumeRecord rowA = fx.row("a");
        assertEquals(rowA.extent().end(), fx.row("b").offset(), "fixture: b right after a");
        long used = a.allocatedBytes() + b.allocatedBytes();

        VolumeInUseException inUse = assertThrows(VolumeInUseException.class, () -> m.expandVolume("a", 100 * MIB, 0, true));
        assertTrue(inUse.getMessage().contains("unpublished and unstaged"), inUse.getMessage());
        assertTrue(inUse.getMessage().contains("volume b"), inUse.getMessage());
        // Moving needs a free extent of the whole new size somewhere.
        NoSpaceException noRoom = assertThrows(NoSpaceException.class, () -> m.expandVolume("a", 420 * MIB, 0, false));
        assertTrue(noRoom.getMessage().contains("no region has"), noRoom.getMessage());
        // Not in use, but open exclusively all the same: not moved.
        try (BlockDevice holder = BlockDevice.open(a.devicePath(), true)) {
            assertThrows(VolumeInUseException.class, () -> m.expandVolume("a", 100 * MIB, 0, false));
        }
        assertEquals(List.of(), fx.table().stream().filter(r -> r.id().contains("~")).toList(), "no move left behind");
        assertTrue(EmulatedFixture.allZero(fx.dir.resolve("region0.img"), fx.row("b").extent().end(), 64 * MIB),
                "an abandoned move's target is erased");

        OutOfRangeException limit = assertThrows(OutOfRangeException.class, () -> m.expandVolume("b", 100 * MIB, 80 * MIB, false));
        assertTrue(limit.getMessage().contains("limit_bytes"), limit.getMessage());
        OutOfRangeException huge = assertThrows(OutOfRangeException.class, () -> m.expandVolume("b", REGION, 0, false));
        assertTrue(huge.getMessage().contains("largest region"), huge.getMessage());
        // b can grow to the end of the region, and not one allocation unit more.
        long toEnd = REGION - fx.row("b").offset();
        VolumeInUseException end = assertThrows(VolumeInUseException.class,
                () -> m.expandVolume("b", toEnd - fx.row("b").rawBytes() + fx.row("b").usableBytes() + 1, 0, true));
        assertTrue(end.getMessage().contains("region ends"), end.getMessage());
        assertThrows(VolumeNotFoundException.class, () -> m.expandVolume("nope", 100 * MIB, 0, false));

        assertEquals(rowA, fx.row("a"));
        assertEquals(List.of(a, b), m.listVolumes());
        assertEquals(a.usableBytes(), BlockDevice.sizeOf(a.devicePath()));
        assertExact(m.capacity(), used);

        // Once b is gone, a grows into its space.
        m.deleteVolume("b", false);
        PmemVolume g = m.expandVolume("a", 100 * MIB, 0, true);
        assertEquals(BlockDevice.sizeOf(g.devicePath()), g.usableBytes());
        assertExact(m.capacity(), g.allocatedBytes());
        // The grown space is taken: a new volume goes after it.
        PmemVolume c = m.createVolume(req("c", 40 * MIB));
        assertEquals(rowA.offset() + g.allocatedBytes(), fx.row("c").offset());
        assertExact(m.capacity(), g.allocatedBytes() + c.allocatedBytes());
        m.deleteVolume("a", false);
        m.deleteVolume("c", false);
    }

    @Test
    void aVolumeNotInUseMovesToGrowWithItsIdAndData() throws Exception {
        EmulatedDeviceManager m = fx.started();
        PmemVolume a = m.createVolume(req("a", 64 * MIB));
        PmemVolume b = m.createVolume(req("b", 40 * MIB));
        VolumeRecord oldRow = fx.row("a");
        assertEquals(oldRow.extent().end(), fx.row("b").offset(), "fixture: b right after a");
        Path target = dir.resolve("mnt");
        String sum = mountWithData(a.devicePath(), target, 5);
        unmount(target);

        PmemVolume g = m.expandVolume("a", 200 * MIB, 0, false);

        assertEquals("a", g.id());
        VolumeRecord row = fx.row("a");
        assertEquals(CapacityMath.rawBytesFor(VolumeMode.FSDAX, 200 * MIB, ALIGN), row.rawBytes());
        assertTrue(row.offset() >= fx.row("b").extent().end(), "moved past b: " + row);
        assertEquals(CapacityMath.usableBytes(VolumeMode.FSDAX, row.rawBytes()), g.usableBytes(), "laid out as a create");
        assertEquals(g.usableBytes(), BlockDevice.sizeOf(g.devicePath()));
        assertEquals(g, m.getVolume("a").orElseThrow());
        assertEquals(List.of("a", "b"), fx.table().stream().map(VolumeRecord::id).toList());
        assertEquals(2, fx.loopsOfDir().size());
        assertTrue(EmulatedFixture.allZero(fx.dir.resolve("region0.img"), oldRow.offset(), oldRow.rawBytes()),
                "the old extent is erased");
        assertEquals(row.rawBytes(), ExtentLabel.read(fx.dir.resolve("region0.img"), row, REGION, ALIGN).orElseThrow().rawBytes());
        assertExact(m.capacity(), row.rawBytes() + b.allocatedBytes());
        assertEquals(List.of(), m.unmanagedExtents());

        new CommandRunner().run(List.of("e2fsck", "-f", "-n", g.devicePath().toString()), Duration.ofMinutes(1));
        Native.check(Native.libc().mount(g.devicePath().toString(), target.toString(), "ext4", 0, null), "mount");
        try {
            assertEquals(sum, checksumFromDevice(target));
        } finally {
            unmount(target);
        }
        m.deleteVolume("a", false);
        m.deleteVolume("b", false);
        assertExact(m.capacity(), 0);
    }

    @Test
    void concurrentGrowthsOfOneVolumeAreSerialisedAndTheLargestWins() throws Exception {
        EmulatedDeviceManager m = fx.started();
        m.createVolume(req("race", 40 * MIB));
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<PmemVolume>> results = List.of(100L, 200L, 150L, 120L).stream()
                    .map(mib -> pool.submit(() -> m.expandVolume("race", mib * MIB, 0, true))).toList();
            for (Future<PmemVolume> f : results) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        PmemVolume v = m.getVolume("race").orElseThrow();
        assertEquals(CapacityMath.rawBytesFor(VolumeMode.FSDAX, 200 * MIB, ALIGN), v.allocatedBytes());
        assertEquals(BlockDevice.sizeOf(v.devicePath()), v.usableBytes());
        assertExact(m.capacity(), v.allocatedBytes());
        List<LoopDevice> loops = fx.loopsOfDir();
        assertEquals(1, loops.size());
        m.deleteVolume("race", false);
    }
}
