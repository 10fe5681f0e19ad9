package dev.pmemcsi.reliability;

import static dev.pmemcsi.reliability.Csi.MIB;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.csi.v1.CapacityRange;
import dev.pmemcsi.csi.v1.CreateSnapshotRequest;
import dev.pmemcsi.csi.v1.CreateVolumeRequest;
import dev.pmemcsi.csi.v1.DeleteSnapshotRequest;
import dev.pmemcsi.csi.v1.ListSnapshotsRequest;
import dev.pmemcsi.csi.v1.Snapshot;
import dev.pmemcsi.csi.v1.Volume;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.csi.v1.VolumeCapability.AccessMode.Mode;
import dev.pmemcsi.csi.v1.VolumeContentSource;
import dev.pmemcsi.device.FaultPoints;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Snapshots, restores and clones through the real driver on the emulated backend, with real loop
 * devices, filesystems and mounts: a snapshot of a mounted filesystem under concurrent writes is
 * consistent, restores and clones carry the data, grow to a larger volume, get a UUID of their own
 * (so source and copies mount at once), and a crash at every step of a snapshot or a restore is
 * repaired by the next start: no half snapshot listed, no filesystem left frozen, no volume left.
 */
class SnapshotIT {

    private static final int BLOCK = 4096;

    private Workspace ws;
    private DriverProcess driver;
    private final List<Path> mounted = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        ws = new Workspace("snapshot");
        driver = DriverProcess.start(ws);
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

    /** 16 MiB: a quarter of the smallest volume. */
    private static final long APPEND_LIMIT_BLOCKS = 4096;

    private static long size(String fs) {
        return fs.equals("xfs") ? 520 * MIB : 64 * MIB;
    }

    private static CreateVolumeRequest.Builder volume(String name, String fs, long bytes) {
        return CreateVolumeRequest.newBuilder().setName(name)
                .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(bytes))
                .addVolumeCapabilities(Csi.mount(fs, Mode.SINGLE_NODE_WRITER));
    }

    private static VolumeContentSource fromSnapshot(String id) {
        return VolumeContentSource.newBuilder()
                .setSnapshot(VolumeContentSource.SnapshotSource.newBuilder().setSnapshotId(id)).build();
    }

    private static VolumeContentSource fromVolume(String id) {
        return VolumeContentSource.newBuilder()
                .setVolume(VolumeContentSource.VolumeSource.newBuilder().setVolumeId(id)).build();
    }

    private Snapshot snapshot(String name, String volumeId) {
        return Csi.retrying(() -> csi().controller().createSnapshot(CreateSnapshotRequest.newBuilder()
                .setName(name).setSourceVolumeId(volumeId).build()).getSnapshot());
    }

    private List<Snapshot> snapshots() {
        List<Snapshot> all = new ArrayList<>();
        csi().controller().listSnapshots(ListSnapshotsRequest.getDefaultInstance()).getEntriesList()
                .forEach(e -> all.add(e.getSnapshot()));
        return all;
    }

    /** Stages and publishes a volume; returns the target. */
    private Path use(String id, VolumeCapability cap) throws IOException {
        Path staging = ws.newStagingPath();
        Path target = ws.newTargetPath();
        csi().stage(id, staging, cap);
        csi().publish(id, staging, target, cap);
        mounted.add(staging);
        mounted.add(target);
        return target;
    }

    private static void writeFile(Path file, long seed, int bytes) throws IOException {
        byte[] b = new byte[bytes];
        new Random(seed).nextBytes(b);
        Files.write(file, b);
    }

    private static String sha256(Path file) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }

    /** Checksums of the regular files directly in {@code dir}, by name. */
    private static Map<String, String> checksums(Path dir, String... names) throws Exception {
        Map<String, String> sums = new TreeMap<>();
        for (String n : names) {
            sums.put(n, sha256(dir.resolve(n)));
        }
        return sums;
    }

    /**
     * Appends 4 KiB blocks, block i filled with i % 251, until stopped; counts the blocks written.
     * At most {@value #APPEND_LIMIT_BLOCKS} blocks, at about 16 MB/s: enough to run across the
     * snapshot on any machine, and never enough to fill the smallest volume, whose copies must
     * still take writes.
     */
    private static Thread appender(Path file, AtomicBoolean stop, AtomicLong blocks) {
        Thread t = new Thread(() -> {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.APPEND)) {
                ByteBuffer b = ByteBuffer.allocate(BLOCK);
                for (long i = 0; !stop.get() && i < APPEND_LIMIT_BLOCKS; i++) {
                    if (i % 8 == 7) {
                        Thread.sleep(2);
                    }
                    b.clear();
                    while (b.hasRemaining()) {
                        b.put((byte) (i % 251));
                    }
                    b.flip();
                    ch.write(b);
                    blocks.incrementAndGet();
                }
            } catch (IOException e) {
                throw new IllegalStateException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "appender");
        t.start();
        return t;
    }

    /** A file an appender wrote, cut anywhere by a snapshot: whole blocks, each with its pattern. */
    private static long assertAppendPrefix(Path file) throws IOException {
        byte[] data = Files.readAllBytes(file);
        assertEquals(0, data.length % BLOCK, "the copy of the appended file ends on a block: " + data.length);
        for (int i = 0; i < data.length; i++) {
            if (data[i] != (byte) ((i / BLOCK) % 251)) {
                throw new AssertionError("byte " + i + " of the copied append file is " + data[i]);
            }
        }
        return data.length / BLOCK;
    }

    private static String uuidOf(Path mountPoint) throws Exception {
        Process p = new ProcessBuilder("findmnt", "-n", "-o", "UUID", "--target", mountPoint.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).strip();
        p.waitFor();
        return out;
    }

    private static long fsBytes(Path mountPoint) throws IOException {
        return Files.getFileStore(mountPoint).getTotalSpace();
    }

    @ParameterizedTest
    @ValueSource(strings = {"ext4", "xfs"})
    void snapshotOfMountedVolumeUnderWritesRestoresAndClones(String fs) throws Exception {
        VolumeCapability cap = Csi.mount(fs, Mode.SINGLE_NODE_WRITER);
        Volume src = csi().controller().createVolume(volume("src-" + fs, fs, size(fs)).build()).getVolume();
        Path data = use(src.getVolumeId(), cap);
        writeFile(data.resolve("a.bin"), 1, 3 << 20);
        writeFile(data.resolve("b.bin"), 2, 1 << 20);
        Map<String, String> before = checksums(data, "a.bin", "b.bin");

        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong written = new AtomicLong();
        Thread writer = appender(data.resolve("live.dat"), stop, written);
        Thread.sleep(200);
        Snapshot snap = snapshot("snap-" + fs, src.getVolumeId());
        Thread.sleep(200);
        stop.set(true);
        writer.join();
        assertTrue(snap.getReadyToUse());
        assertEquals(src.getVolumeId(), snap.getSourceVolumeId());
        assertEquals(src.getCapacityBytes(), snap.getSizeBytes());
        assertTrue(written.get() > 0);
        // The writer ran through the freeze and on after it: the source has every block.
        assertEquals(written.get(), assertAppendPrefix(data.resolve("live.dat")));

        // The same size, read-only for a reader, while the source stays mounted.
        Volume same = csi().controller().createVolume(volume("same-" + fs, fs, size(fs))
                .setVolumeContentSource(fromSnapshot(snap.getSnapshotId())).build()).getVolume();
        assertEquals(snap.getSnapshotId(), same.getContentSource().getSnapshot().getSnapshotId());
        VolumeCapability reader = Csi.mount(fs, Mode.SINGLE_NODE_READER_ONLY);
        Path sameData = use(same.getVolumeId(), reader);
        assertEquals(before, checksums(sameData, "a.bin", "b.bin"));
        long copied = assertAppendPrefix(sameData.resolve("live.dat"));
        assertTrue(copied <= written.get(), copied + " blocks in the copy, " + written.get() + " written");
        assertFalse(Files.isWritable(sameData.resolve("a.bin")) && canWrite(sameData), "a reader's volume is read-only");
        // A second reader of the same restored volume on the node.
        Path second = ws.newTargetPath();
        Path sameStaging = mounted.get(mounted.size() - 2);
        csi().publish(same.getVolumeId(), sameStaging, second, reader);
        mounted.add(second);
        assertEquals(before, checksums(second, "a.bin", "b.bin"));

        // A larger volume: the filesystem grows to it.
        long larger = size(fs) + 128 * MIB;
        Volume big = csi().controller().createVolume(volume("big-" + fs, fs, larger)
                .setVolumeContentSource(fromSnapshot(snap.getSnapshotId())).build()).getVolume();
        Path bigData = use(big.getVolumeId(), cap);
        assertEquals(before, checksums(bigData, "a.bin", "b.bin"));
        assertTrue(fsBytes(bigData) > fsBytes(data) + 100 * MIB,
                "the restored filesystem has " + fsBytes(bigData) + " bytes, the source's " + fsBytes(data));

        // A clone of the mounted source.
        Volume clone = csi().controller().createVolume(volume("clone-" + fs, fs, size(fs))
                .setVolumeContentSource(fromVolume(src.getVolumeId())).build()).getVolume();
        assertEquals(src.getVolumeId(), clone.getContentSource().getVolume().getVolumeId());
        Path cloneData = use(clone.getVolumeId(), cap);
        assertEquals(before, checksums(cloneData, "a.bin", "b.bin"));
        assertEquals(written.get(), assertAppendPrefix(cloneData.resolve("live.dat")));

        // Source and copies mounted at once, each with a UUID of its own.
        List<String> uuids = List.of(uuidOf(data), uuidOf(sameData), uuidOf(bigData), uuidOf(cloneData));
        assertEquals(4, uuids.stream().distinct().count(), "UUIDs " + uuids);

        // The copies are independent of the source: writes to one do not reach the other.
        Files.writeString(cloneData.resolve("clone-only"), "x");
        assertFalse(Files.exists(data.resolve("clone-only")));
    }

    private static boolean canWrite(Path dir) {
        try {
            Files.delete(Files.createTempFile(dir, "w", ".tmp"));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    @Test
    void snapshotsListDeleteAndOutliveTheirSource() throws Exception {
        Volume src = csi().controller().createVolume(volume("list-src", "ext4", 64 * MIB).build()).getVolume();
        Path data = use(src.getVolumeId(), Csi.mount());
        writeFile(data.resolve("f"), 3, 1 << 20);
        String sum = sha256(data.resolve("f"));
        Snapshot s1 = snapshot("s1", src.getVolumeId());
        Snapshot s2 = snapshot("s2", src.getVolumeId());
        assertNotEquals(s1.getSnapshotId(), s2.getSnapshotId());
        assertEquals(List.of(s1.getSnapshotId(), s2.getSnapshotId()).stream().sorted().toList(),
                snapshots().stream().map(Snapshot::getSnapshotId).toList());
        // Unused now: the source is copied through an exclusive open, without a freeze.
        driver.csi().unpublish(src.getVolumeId(), mounted.get(1));
        driver.csi().unstage(src.getVolumeId(), mounted.get(0));
        mounted.clear();
        Snapshot s3 = snapshot("s3", src.getVolumeId());
        csi().delete(src.getVolumeId());
        assertEquals(3, snapshots().size(), "snapshots outlive their source");
        Volume restored = csi().controller().createVolume(volume("list-restored", "ext4", 64 * MIB)
                .setVolumeContentSource(fromSnapshot(s3.getSnapshotId())).build()).getVolume();
        assertEquals(sum, sha256(use(restored.getVolumeId(), Csi.mount()).resolve("f")));
        for (Snapshot s : List.of(s1, s2, s3)) {
            csi().controller().deleteSnapshot(DeleteSnapshotRequest.newBuilder().setSnapshotId(s.getSnapshotId()).build());
        }
        assertEquals(List.of(), snapshots());
        assertEquals(List.of(), Files.list(ws.state().resolve("snapshots")).toList(), "no file left");
    }

    // ============================================================ crashes

    /** Runs {@code op} on a driver armed with {@code point}, expects it to die there, starts a clean one. */
    private void crashDuring(String point, Consumer<Csi> op) throws Exception {
        driver.stop();
        driver = DriverProcess.start(ws, point, List.of());
        try {
            op.accept(csi());
        } catch (StatusRuntimeException expected) {
            // the connection dies with the process
        }
        assertEquals(FaultPoints.EXIT_CODE, driver.awaitExit(Duration.ofSeconds(60)),
                "the driver did not die at " + point + ":\n" + driver.logTail());
        driver = DriverProcess.start(ws);
    }

    @ParameterizedTest
    @ValueSource(strings = {"node.freeze.frozen", "controller.snapshot.image-written",
            "controller.snapshot.image-renamed"})
    void crashWhileSnapshottingLeavesNoHalfSnapshotAndNoFrozenFilesystem(String point) throws Exception {
        Volume src = csi().controller().createVolume(volume("crash-src", "ext4", 64 * MIB).build()).getVolume();
        Path data = use(src.getVolumeId(), Csi.mount());
        writeFile(data.resolve("f"), 4, 1 << 20);
        crashDuring(point, c -> c.controller().createSnapshot(CreateSnapshotRequest.newBuilder()
                .setName("crashed").setSourceVolumeId(src.getVolumeId()).build()));
        assertEquals(List.of(), snapshots(), "no half snapshot is listed");
        assertEquals(List.of(), Files.list(ws.state().resolve("snapshots")).toList(), "no file of it is left");
        // Not frozen: a write with fsync returns (a frozen filesystem would block it).
        Thread w = new Thread(() -> {
            try {
                writeFile(data.resolve("after"), 5, 4096);
                try (FileChannel ch = FileChannel.open(data.resolve("after"), StandardOpenOption.WRITE)) {
                    ch.force(true);
                }
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        w.start();
        w.join(20_000);
        assertFalse(w.isAlive(), "a write to the source blocks: its filesystem is still frozen");
        // The retried call succeeds.
        Snapshot s = snapshot("crashed", src.getVolumeId());
        assertEquals(List.of(s.getSnapshotId()), snapshots().stream().map(Snapshot::getSnapshotId).toList());
    }

    @ParameterizedTest
    @ValueSource(strings = {"controller.restore.created", "controller.restore.copied"})
    void crashWhileRestoringLeavesNoVolume(String point) throws Exception {
        Volume src = csi().controller().createVolume(volume("r-src", "ext4", 64 * MIB).build()).getVolume();
        Path data = use(src.getVolumeId(), Csi.mount());
        writeFile(data.resolve("f"), 6, 1 << 20);
        String sum = sha256(data.resolve("f"));
        Snapshot s = snapshot("r-snap", src.getVolumeId());
        long available = csi().available();
        CreateVolumeRequest restore = volume("r-copy", "ext4", 64 * MIB)
                .setVolumeContentSource(fromSnapshot(s.getSnapshotId())).build();
        crashDuring(point, c -> c.controller().createVolume(restore));
        assertEquals(List.of(src.getVolumeId()), csi().listAll().stream().map(Volume::getVolumeId).toList(),
                "the half restored volume is deleted at start");
        assertEquals(available, csi().available(), "its extent is free again");
        assertEquals(List.of(), ws.driverMounts().stream().filter(m -> m.contains("restore-mounts")).toList());
        // The retried call succeeds and carries the data.
        Volume v = Csi.retrying(() -> csi().controller().createVolume(restore).getVolume());
        assertEquals(sum, sha256(use(v.getVolumeId(), Csi.mount()).resolve("f")));
    }
}
