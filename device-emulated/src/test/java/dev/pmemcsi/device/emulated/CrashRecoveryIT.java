package dev.pmemcsi.device.emulated;

import static dev.pmemcsi.device.emulated.EmulatedFixture.ALIGN;
import static dev.pmemcsi.device.emulated.EmulatedFixture.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.FaultPoints;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Kills a driver JVM at each step of create and delete, then checks that a new instance over the
 * same directory ends in a clean state: the creation undone, the deletion finished and erased.
 */
class CrashRecoveryIT {

    private static final long REGION = 256 * MIB;
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

    private void crashAt(String point, String op, String id) throws Exception {
        Path log = dir.resolve("harness-" + point + ".log");
        ProcessBuilder pb = new ProcessBuilder(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"),
                "-D" + FaultPoints.PROPERTY + "=" + point,
                CrashHarness.class.getName(),
                fx.dir.toString(), REGION / MIB + "Mi", Long.toString(ALIGN), op, id, Long.toString(40 * MIB)))
                .redirectErrorStream(true)
                .redirectOutput(log.toFile());
        pb.environment().put(FaultPoints.ENV, "1");
        Process p = pb.start();
        assertTrue(p.waitFor(2, TimeUnit.MINUTES), "harness hangs");
        assertEquals(CRASH_EXIT, p.exitValue(), "harness did not crash at " + point + ":\n" + Files.readString(log));
    }

    @ParameterizedTest
    @ValueSource(strings = {EmulatedDeviceManager.FAULT_CREATE_RECORDED, EmulatedDeviceManager.FAULT_CREATE_ATTACHED})
    void aCrashDuringCreateIsRolledBack(String point) throws Exception {
        crashAt(point, "create", "crash-create");
        VolumeRecord row = fx.row("crash-create");
        assertEquals(VolumeState.CREATING, row.state());
        assertEquals(point.equals(EmulatedDeviceManager.FAULT_CREATE_ATTACHED) ? 1 : 0, fx.loopsOfDir().size());

        EmulatedDeviceManager m = fx.started();
        assertEquals(List.of(), m.listVolumes());
        assertNull(fx.row("crash-create"));
        assertEquals(List.of(), fx.loopsOfDir());
        assertEquals(REGION, m.capacity().availableBytes());
        // The CO retries the create, which now succeeds.
        PmemVolume v = m.createVolume(new VolumeRequest("crash-create", 40 * MIB, 0, VolumeMode.FSDAX, true, Map.of()));
        m.deleteVolume(v.id(), true);
    }

    @ParameterizedTest
    @ValueSource(strings = {EmulatedDeviceManager.FAULT_DELETE_RECORDED, EmulatedDeviceManager.FAULT_DELETE_DETACHED,
            EmulatedDeviceManager.FAULT_DELETE_ERASED})
    void aCrashDuringDeleteIsFinishedAndErased(String point) throws Exception {
        EmulatedDeviceManager first = fx.started();
        PmemVolume v = first.createVolume(new VolumeRequest("crash-delete", 40 * MIB, 0, VolumeMode.FSDAX, false, Map.of()));
        VolumeRecord before = fx.row("crash-delete");
        EmulatedFixture.write(v.devicePath(), 0, EmulatedFixture.pattern(7, (int) (8 * MIB)));
        first.close();

        crashAt(point, "delete", "crash-delete");
        VolumeRecord row = fx.row("crash-delete");
        assertEquals(VolumeState.DELETING, row.state());
        assertTrue(row.eraseOnDelete());
        assertEquals(point.equals(EmulatedDeviceManager.FAULT_DELETE_RECORDED) ? 1 : 0, fx.loopsOfDir().size());
        Path region = fx.dir.resolve("region0.img");
        assertEquals(point.equals(EmulatedDeviceManager.FAULT_DELETE_ERASED), EmulatedFixture.allZero(region, before.offset(), before.rawBytes()));

        EmulatedDeviceManager m = fx.started();
        assertEquals(List.of(), m.listVolumes());
        assertNull(fx.row("crash-delete"));
        assertEquals(List.of(), fx.loopsOfDir());
        assertTrue(EmulatedFixture.allZero(region, before.offset(), before.rawBytes()));
        assertEquals(0, m.capacity().usedBytes());
        assertFalse(Files.exists(fx.dir.resolve(EmulatedDeviceManager.TABLE_FILE + ".tmp")));
    }
}
