package dev.pmemcsi.reliability;

import static dev.pmemcsi.reliability.Csi.MIB;
import static dev.pmemcsi.reliability.Csi.retrying;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.csi.v1.Volume;
import dev.pmemcsi.device.FaultPoints;
import dev.pmemcsi.pmemnative.loop.LoopDevice;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/**
 * The driver dies (Runtime.halt, like kill -9) at each named fault point inside create, delete,
 * erase, stage, publish, unstage, unpublish and the ephemeral paths. A new driver process starts
 * over the same state, the test retries what kubelet or external-provisioner would retry, and then
 * checks: the retry converges, no volume, mount, loop device or record is left, data written before
 * the crash is intact, and erased data never reappears.
 *
 * <p>The point lists are the suite's size: 21 crashes (fault point × operation), stated in
 * docs/reliability.md.
 */
class CrashRecoveryIT {

    static final List<String> CREATE_POINTS = List.of("create.recorded", "create.attached", "controller.create.done");
    static final List<String> DELETE_POINTS = List.of("delete.recorded", "delete.detached", "erase.partial",
            "delete.erased", "controller.delete.done");
    static final List<String> STAGE_POINTS = List.of("node.stage.recorded", "node.stage.mounted");
    static final List<String> PUBLISH_POINTS = List.of("node.publish.recorded", "node.publish.mounted");
    static final List<String> TEARDOWN_POINTS = List.of("node.unpublish.unmounted", "node.unstage.unmounted");
    static final List<String> EPHEMERAL_PUBLISH_POINTS = List.of("node.ephemeral.recorded", "node.ephemeral.created",
            "create.attached", "node.ephemeral.mounted");
    static final List<String> EPHEMERAL_UNPUBLISH_POINTS = List.of("node.unpublish.unmounted", "delete.detached",
            "node.ephemeral.deleted");

    private static final String NAME = "crash-pvc";
    private static final long SIZE = 64 * MIB;
    /** Larger than one erase chunk (256 MiB), so that erase.partial falls between two chunks. */
    private static final long ERASE_SIZE = 320 * MIB;

    private Workspace ws;
    private Backend backend;
    private DriverProcess driver;
    private long initialAvailable = -1;

    @BeforeEach
    void setUp() throws Exception {
        ws = new Workspace("crash");
        backend = new Backend(ws);
    }

    @AfterEach
    void tearDown() throws Exception {
        try {
            if (driver != null) {
                driver.close();
            }
        } finally {
            ws.close();
        }
    }

    private Csi csi() {
        return driver.csi();
    }

    private void startDriver(String crashAt) throws Exception {
        driver = DriverProcess.start(ws, crashAt, List.of());
        if (initialAvailable < 0) {
            initialAvailable = csi().available();
        }
    }

    /**
     * Runs {@code op} on a driver armed with {@code point}, expects the process to die there, and
     * starts a clean driver over the same state. Re-arms first if the running driver is not armed.
     */
    private void crashDuring(String point, boolean armed, Consumer<Csi> op) throws Exception {
        if (!armed) {
            driver.stop();
            driver = DriverProcess.start(ws, point, List.of());
        }
        try {
            op.accept(csi());
        } catch (StatusRuntimeException expected) {
            // the connection dies with the process
        }
        assertEquals(FaultPoints.EXIT_CODE, driver.awaitExit(Duration.ofSeconds(60)),
                "the driver did not die at " + point + ":\n" + driver.logTail());
        driver = DriverProcess.start(ws);
    }

    /** Nothing left: no volume, no record, no mount, no loop device, all capacity back. */
    private void assertClean() throws Exception {
        assertEquals(List.of(), csi().listAll());
        assertEquals(List.of(), backend.rows());
        assertEquals(List.of(), backend.nodeRecords());
        assertEquals(initialAvailable, csi().available());
        driver.stop();
        ws.assertNothingHeld();
    }

    private static byte[] pattern(long seed) {
        byte[] b = new byte[4 << 20];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static void writeDurably(Path file, byte[] data) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(data));
            ch.force(true);
        }
    }

    /** A persistent volume with 4 MiB of known data on its filesystem, left staged or not. */
    private String volumeWithData(long size, Path staging, boolean leaveStaged, boolean leavePublishedAt,
                                  Path target) throws IOException {
        Volume v = csi().create(NAME, size);
        String id = v.getVolumeId();
        csi().stage(id, staging, Csi.mount());
        csi().publish(id, staging, target, Csi.mount());
        writeDurably(target.resolve("data"), pattern(1));
        if (!leavePublishedAt) {
            csi().unpublish(id, target);
            if (!leaveStaged) {
                csi().unstage(id, staging);
            }
        }
        return id;
    }

    private void assertDataIntact(String id, Path staging) throws IOException {
        Path target = ws.newTargetPath();
        retrying(() -> csi().publish(id, staging, target, Csi.mount()));
        assertArrayEquals(pattern(1), Files.readAllBytes(target.resolve("data")), "data written before the crash");
        retrying(() -> csi().unpublish(id, target));
    }

    private void teardownVolume(String id, Path staging) {
        retrying(() -> csi().unstage(id, staging));
        retrying(() -> csi().delete(id));
    }

    // ------------------------------------------------------------------ controller

    @ParameterizedTest
    @FieldSource("CREATE_POINTS")
    void createConvergesAfterACrash(String point) throws Exception {
        startDriver(point);
        crashDuring(point, true, c -> c.create(NAME, SIZE));
        Volume v = retrying(() -> csi().create(NAME, SIZE));
        Volume again = csi().create(NAME, SIZE);
        assertEquals(v, again);
        assertEquals(1, csi().listAll().size(), "exactly one volume for the name");
        assertEquals(1, backend.rows().size());
        retrying(() -> csi().delete(v.getVolumeId()));
        assertClean();
    }

    @ParameterizedTest
    @FieldSource("DELETE_POINTS")
    void deleteFinishesAfterACrashAndTheDataIsGone(String point) throws Exception {
        startDriver(point);
        Path staging = ws.newStagingPath();
        String id = volumeWithData(ERASE_SIZE, staging, false, false, ws.newTargetPath());
        Backend.Row row = backend.row(id);
        assertFalse(backend.extentIsZero(row), "the volume holds data");
        crashDuring(point, true, c -> c.delete(id));
        retrying(() -> csi().delete(id));
        assertTrue(backend.extentIsZero(row), "the erased extent is all zeros after recovery");
        // The same name again gets a fresh, empty volume: nothing of the old data reappears.
        Volume fresh = csi().create(NAME, ERASE_SIZE);
        assertEquals(row.offset(), backend.row(fresh.getVolumeId()).offset(), "best fit reuses the extent");
        assertTrue(backend.extentIsZero(backend.row(fresh.getVolumeId()).deviceRange()));
        Path staging2 = ws.newStagingPath();
        Path target = ws.newTargetPath();
        csi().stage(fresh.getVolumeId(), staging2, Csi.mount());
        csi().publish(fresh.getVolumeId(), staging2, target, Csi.mount());
        assertFalse(Files.exists(target.resolve("data")), "a new filesystem, without the old file");
        csi().unpublish(fresh.getVolumeId(), target);
        teardownVolume(fresh.getVolumeId(), staging2);
        assertClean();
    }

    /**
     * A delete that gives up (another process holds the device open: ABORTED) is not a crash, but
     * it is interrupted all the same: once the holder is gone, the retried delete must finish it,
     * so that neither the space nor the name stays taken.
     */
    @Test
    void aDeleteThatGaveUpIsFinishedByTheRetry() throws Exception {
        Assumptions.assumeTrue(BackendKind.current() == BackendKind.EMULATED, "loop devices");
        startDriver(null);
        Volume v = csi().create(NAME, SIZE);
        String id = v.getVolumeId();
        List<LoopDevice> loops = Host.loopsUnder(ws.root);
        assertEquals(1, loops.size());
        try (FileChannel holder = FileChannel.open(loops.get(0).device(), StandardOpenOption.READ)) {
            assertEquals(Status.Code.ABORTED, Csi.codeOf(() -> csi().delete(id)));
        }
        retrying(() -> csi().delete(id));
        assertEquals(List.of(), backend.rows(), "the retried delete dropped the row");
        assertEquals(initialAvailable, csi().available(), "and freed the extent");
        Volume again = csi().create(NAME, SIZE);
        retrying(() -> csi().delete(again.getVolumeId()));
        assertClean();
    }

    /**
     * The volume table is deleted while the driver is stopped. The driver must not start empty and
     * hand the volume's extent, data and all, to the next volume: it rebuilds the table from the
     * labels in the region files, keeps the volume's loop device, and the data stays the volume's.
     */
    @Test
    void aLostVolumeTableIsRebuiltAndNoVolumeGetsAnothersData() throws Exception {
        Assumptions.assumeTrue(BackendKind.current() == BackendKind.EMULATED, "the emulated backend's table");
        startDriver(null);
        Path staging = ws.newStagingPath();
        String id = volumeWithData(ERASE_SIZE, staging, false, false, ws.newTargetPath());
        Backend.Row row = backend.row(id);
        List<String> loops = Host.loopsUnder(ws.root).stream().map(l -> l.device().toString()).toList();
        driver.stop();
        Files.delete(ws.emulated().resolve("volumes.json"));
        driver = DriverProcess.start(ws);
        assertEquals(List.of(id), csi().listAll().stream().map(Volume::getVolumeId).toList(), "the volume is known again");
        assertEquals(row, backend.row(id), "at the same extent");
        assertEquals(loops, Host.loopsUnder(ws.root).stream().map(l -> l.device().toString()).toList(),
                "its loop device was kept");
        Volume other = csi().create("other-pvc", ERASE_SIZE);
        Backend.Row otherRow = backend.row(other.getVolumeId());
        assertTrue(otherRow.offset() + otherRow.rawBytes() <= row.offset() || row.offset() + row.rawBytes() <= otherRow.offset()
                || !otherRow.region().equals(row.region()), "the new volume does not overlap the old one");
        assertTrue(backend.extentIsZero(otherRow.deviceRange()), "the new volume holds no old data");
        retrying(() -> csi().delete(other.getVolumeId()));
        csi().stage(id, staging, Csi.mount());
        assertDataIntact(id, staging);
        teardownVolume(id, staging);
        assertClean();
    }

    // ------------------------------------------------------------------ node, persistent volumes

    @ParameterizedTest
    @FieldSource("STAGE_POINTS")
    void stageConvergesAfterACrashAndKeepsTheData(String point) throws Exception {
        startDriver(null);
        Path staging = ws.newStagingPath();
        String id = volumeWithData(SIZE, staging, false, false, ws.newTargetPath());
        crashDuring(point, false, c -> c.stage(id, staging, Csi.mount()));
        assertFalse(Host.isMountPoint(staging), "the interrupted staging was rolled back");
        retrying(() -> csi().stage(id, staging, Csi.mount()));
        assertDataIntact(id, staging);
        teardownVolume(id, staging);
        assertClean();
    }

    @ParameterizedTest
    @FieldSource("PUBLISH_POINTS")
    void publishConvergesAfterACrashAndKeepsTheData(String point) throws Exception {
        startDriver(null);
        Path staging = ws.newStagingPath();
        String id = volumeWithData(SIZE, staging, true, false, ws.newTargetPath());
        Path target = ws.newTargetPath();
        crashDuring(point, false, c -> c.publish(id, staging, target, Csi.mount()));
        assertFalse(Host.isMountPoint(target), "the interrupted publication was rolled back");
        assertFalse(Files.exists(target, LinkOption.NOFOLLOW_LINKS), "and its target removed");
        assertTrue(Host.isMountPoint(staging), "the staging survived");
        retrying(() -> csi().publish(id, staging, target, Csi.mount()));
        assertArrayEquals(pattern(1), Files.readAllBytes(target.resolve("data")));
        retrying(() -> csi().unpublish(id, target));
        teardownVolume(id, staging);
        assertClean();
    }

    @ParameterizedTest
    @FieldSource("TEARDOWN_POINTS")
    void teardownConvergesAfterACrashAndKeepsTheData(String point) throws Exception {
        startDriver(point);
        Path staging = ws.newStagingPath();
        Path target = ws.newTargetPath();
        boolean unstage = point.startsWith("node.unstage");
        String id = volumeWithData(SIZE, staging, true, !unstage, target);
        if (unstage) {
            crashDuring(point, true, c -> c.unstage(id, staging));
            retrying(() -> csi().unstage(id, staging));
            assertFalse(Host.isMountPoint(staging));
            retrying(() -> csi().stage(id, staging, Csi.mount()));
        } else {
            crashDuring(point, true, c -> c.unpublish(id, target));
            retrying(() -> csi().unpublish(id, target));
            assertFalse(Files.exists(target, LinkOption.NOFOLLOW_LINKS), "the target is removed");
        }
        assertDataIntact(id, staging);
        teardownVolume(id, staging);
        assertClean();
    }

    // ------------------------------------------------------------------ node, ephemeral volumes

    @ParameterizedTest
    @FieldSource("EPHEMERAL_PUBLISH_POINTS")
    void ephemeralPublishConvergesAfterACrash(String point) throws Exception {
        startDriver(point);
        Path target = ws.newTargetPath();
        crashDuring(point, true, c -> c.node().nodePublishVolume(Csi.ephemeralRequest("inline-1", target, "48Mi")));
        // Inline volumes belong to the node service: ListVolumes does not show them, the backend does.
        assertEquals(List.of(), backend.rows(), "the interrupted inline volume was deleted");
        assertFalse(Host.isMountPoint(target));
        retrying(() -> csi().node().nodePublishVolume(Csi.ephemeralRequest("inline-1", target, "48Mi")));
        assertTrue(Host.isMountPoint(target));
        assertEquals(1, backend.rows().size());
        assertEquals(List.of(), csi().listAll(), "an inline volume is not listed as a controller volume");
        writeDurably(target.resolve("scratch"), pattern(2));
        retrying(() -> csi().unpublish("inline-1", target));
        assertClean();
    }

    @ParameterizedTest
    @FieldSource("EPHEMERAL_UNPUBLISH_POINTS")
    void ephemeralUnpublishConvergesAfterACrashAndErases(String point) throws Exception {
        startDriver(point);
        Path target = ws.newTargetPath();
        csi().node().nodePublishVolume(Csi.ephemeralRequest("inline-2", target, "48Mi"));
        writeDurably(target.resolve("scratch"), pattern(3));
        List<Backend.Row> rows = backend.rows();
        assertEquals(1, rows.size());
        Backend.Row row = rows.get(0);
        assertFalse(backend.extentIsZero(row));
        crashDuring(point, true, c -> c.unpublish("inline-2", target));
        retrying(() -> csi().unpublish("inline-2", target));
        assertFalse(Files.exists(target, LinkOption.NOFOLLOW_LINKS));
        assertTrue(backend.extentIsZero(row), "the inline volume's data is erased");
        assertClean();
    }
}
