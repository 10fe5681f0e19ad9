package dev.pmemcsi.device.emulated;

import static dev.pmemcsi.device.emulated.EmulatedFixture.ALIGN;
import static dev.pmemcsi.device.emulated.EmulatedFixture.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.FaultPoints;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.pmemnative.BlockDevice;
import dev.pmemcsi.pmemnative.CommandRunner;
import dev.pmemcsi.pmemnative.Native;
import dev.pmemcsi.pmemnative.loop.LoopDevice;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Kills a driver JVM at each step of growing a volume whose ext4 is mounted, then checks that a new
 * instance over the same directory ends with the volume grown on its mounted device, its data
 * intact, and every byte of the region accounted for.
 */
class ExpandCrashIT {

    private static final long REGION = 512 * MIB;
    private static final long GROWN = 200 * MIB;
    private static final int CRASH_EXIT = 86;

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

    private void crashAt(String point, String id) throws Exception {
        crashAt(point, "expand", id);
    }

    private void crashAt(String point, String op, String id) throws Exception {
        Path log = dir.resolve("harness-" + point + ".log");
        ProcessBuilder pb = new ProcessBuilder(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"),
                "-D" + FaultPoints.PROPERTY + "=" + point,
                CrashHarness.class.getName(),
                fx.dir.toString(), REGION / MIB + "Mi", Long.toString(ALIGN), op, id, Long.toString(GROWN)))
                .redirectErrorStream(true)
                .redirectOutput(log.toFile());
        pb.environment().put(FaultPoints.ENV, "1");
        Process p = pb.start();
        assertTrue(p.waitFor(2, TimeUnit.MINUTES), "harness hangs");
        assertEquals(CRASH_EXIT, p.exitValue(), "harness did not crash at " + point + ":\n" + Files.readString(log));
    }

    @ParameterizedTest
    @ValueSource(strings = {EmulatedDeviceManager.FAULT_EXPAND_RECORDED, EmulatedDeviceManager.FAULT_EXPAND_LABELLED,
            EmulatedDeviceManager.FAULT_EXPAND_RESIZED})
    void aCrashDuringGrowthEndsWithTheMountedVolumeGrownAndItsDataIntact(String point) throws Exception {
        EmulatedDeviceManager first = fx.started();
        PmemVolume v = first.createVolume(ExpandVolumeIT.req("crash-grow", 64 * MIB));
        VolumeRecord before = fx.row("crash-grow");
        first.close();
        Path target = dir.resolve("mnt");
        String sum = ExpandVolumeIT.mountWithData(v.devicePath(), target, 9);
        EmulatedDeviceManager m;
        try {
            crashAt(point, "crash-grow");

            long raw = CapacityMath.rawBytesFor(VolumeMode.FSDAX, GROWN, ALIGN);
            VolumeRecord row = fx.row("crash-grow");
            assertEquals(VolumeState.READY, row.state());
            assertEquals(raw, row.rawBytes(), "the row is grown before anything else");
            assertEquals(before.deviceOffset(), row.deviceOffset());
            boolean deviceGrew = point.equals(EmulatedDeviceManager.FAULT_EXPAND_RESIZED);
            assertEquals(deviceGrew ? row.usableBytes() : before.usableBytes(), BlockDevice.sizeOf(v.devicePath()));

            m = fx.started();
            PmemVolume after = m.getVolume("crash-grow").orElseThrow();
            assertEquals(v.devicePath(), after.devicePath(), "the mounted device is kept");
            assertEquals(raw, after.allocatedBytes());
            assertEquals(after.usableBytes(), BlockDevice.sizeOf(v.devicePath()), "the mounted device grew");
            List<LoopDevice> loops = fx.loopsOfDir();
            assertEquals(1, loops.size(), "no second device: " + loops);
            VolumeRecord label = ExtentLabel.read(fx.dir.resolve("region0.img"), row, REGION, ALIGN).orElseThrow();
            assertEquals(row.rawBytes(), label.rawBytes(), "the label carries the grown row");
            assertEquals(List.of(), m.unmanagedExtents());
            ExpandVolumeIT.assertExact(m.capacity(), raw);
            assertEquals(sum, ExpandVolumeIT.checksumFromDevice(target));
        } finally {
            Native.check(Native.libc().umount2(target.toString(), 0), "umount");
        }
        new CommandRunner().run(List.of("e2fsck", "-f", "-n", v.devicePath().toString()), Duration.ofMinutes(1));
        m.deleteVolume("crash-grow", true);
        ExpandVolumeIT.assertExact(m.capacity(), 0);
    }

    @ParameterizedTest
    @ValueSource(strings = {EmulatedDeviceManager.FAULT_MOVE_RESERVED, EmulatedDeviceManager.FAULT_MOVE_COPIED,
            EmulatedDeviceManager.FAULT_MOVE_SWITCHED, EmulatedDeviceManager.FAULT_MOVE_ATTACHED,
            EmulatedDeviceManager.FAULT_MOVE_ERASED})
    void aCrashDuringAMoveEndsWithOneCompleteVolumeAndNoLeakedSpace(String point) throws Exception {
        EmulatedDeviceManager first = fx.started();
        PmemVolume a = first.createVolume(ExpandVolumeIT.req("mover", 64 * MIB));
        PmemVolume b = first.createVolume(ExpandVolumeIT.req("neighbour", 40 * MIB));
        VolumeRecord before = fx.row("mover");
        assertEquals(before.extent().end(), fx.row("neighbour").offset(), "fixture: the space after the volume is taken");
        byte[] head = EmulatedFixture.pattern(1, (int) (8 * MIB));
        byte[] tail = EmulatedFixture.pattern(2, (int) MIB);
        EmulatedFixture.write(a.devicePath(), 0, head);
        EmulatedFixture.write(a.devicePath(), a.usableBytes() - MIB, tail);
        first.close();

        crashAt(point, "move", "mover");
        boolean switched = !point.equals(EmulatedDeviceManager.FAULT_MOVE_RESERVED)
                && !point.equals(EmulatedDeviceManager.FAULT_MOVE_COPIED);
        VolumeRecord holder = fx.row("mover" + Recovery.MOVE_SUFFIX);
        assertEquals(VolumeState.DELETING, holder.state());
        VolumeRecord crashed = fx.row("mover");
        assertEquals(switched ? holder.offset() : crashed.offset(), before.offset());

        EmulatedDeviceManager m = fx.started();
        PmemVolume after = m.getVolume("mover").orElseThrow();
        VolumeRecord row = fx.row("mover");
        long raw = CapacityMath.rawBytesFor(VolumeMode.FSDAX, GROWN, ALIGN);
        assertEquals(switched ? raw : before.rawBytes(), row.rawBytes(), "old or new, never neither");
        assertEquals(row.usableBytes(), BlockDevice.sizeOf(after.devicePath()));
        assertEquals(List.of("mover", "neighbour"), fx.table().stream().map(VolumeRecord::id).toList(), "no move row left");
        assertEquals(2, fx.loopsOfDir().size());
        assertEquals(List.of(), m.unmanagedExtents());
        ExpandVolumeIT.assertExact(m.capacity(), row.rawBytes() + b.allocatedBytes());
        VolumeRecord freed = switched ? before : holder;
        assertTrue(EmulatedFixture.allZero(fx.dir.resolve("region0.img"), freed.offset(), freed.rawBytes()),
                "the extent given back is erased");
        assertEquals(ExpandVolumeIT.sha256(head), ExpandVolumeIT.sha256(EmulatedFixture.read(after.devicePath(), 0, head.length)));
        assertEquals(ExpandVolumeIT.sha256(tail),
                ExpandVolumeIT.sha256(EmulatedFixture.read(after.devicePath(), before.usableBytes() - MIB, tail.length)));
        assertEquals(row.rawBytes(), ExtentLabel.read(fx.dir.resolve("region0.img"), row, REGION, ALIGN).orElseThrow().rawBytes());
        m.deleteVolume("mover", true);
        m.deleteVolume("neighbour", true);
        ExpandVolumeIT.assertExact(m.capacity(), 0);
    }
}
