package dev.pmemcsi.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Snapshots and restores on the emulated backend, through the driver's socket as
 * csi-snapshotter and external-provisioner call it, against the raw bandwidth of the same disk
 * measured in the same run.
 *
 * <ul>
 *   <li>Two 1 GiB volumes with a filesystem: one filled to the brim with non-zero data, one 1% full.
 *       Each is snapshotted (CreateSnapshot of the unstaged volume: its filesystem's bytes copied into
 *       a sparse image in the snapshot dir) and restored (CreateVolume with the snapshot as content
 *       source: the image checked and copied onto a new volume).</li>
 *   <li>The floor: {@code dd} with O_DIRECT reading a loop device over a fully written 1 GiB file next
 *       to the region files (the device's sequential read bandwidth), and writing 1 GiB into a file in
 *       the state dir, the snapshot dir's filesystem (its sequential write bandwidth). A snapshot reads
 *       the device and writes the disk, a restore reads the disk and writes the device, so each is held
 *       against the slower of the two.</li>
 * </ul>
 */
final class SnapshotScenario implements Scenario {

    private static final long VOLUME_BYTES = 1L << 30;
    private static final long MIB = 1L << 20;

    @Override
    public String name() {
        return "snapshot";
    }

    @Override
    public void run(Settings settings, Report report) throws Exception {
        String fs = settings.fsType();
        report.section("4e. snapshots and restores: 1 GiB volume, " + fs + ", emulated backend vs the disk's raw bandwidth");
        int reps = settings.reps(3, 1);
        try (Workspace ws = Workspace.create("snapshot");
             DriverProcess driver = DriverProcess.start(settings.repo(), ws, "3Gi,3Gi", DriverProcess.Jvm.DEFAULT)) {
            driver.awaitReady(java.time.Duration.ofSeconds(60)).client().close();
            double[] raw = rawBandwidth(ws);
            double floor = Math.min(raw[0], raw[1]);
            report.line("raw: O_DIRECT sequential read of a loop device %.0f MiB/s | O_DIRECT write to the"
                    + " snapshot dir's filesystem %.0f MiB/s", raw[0], raw[1]);
            try (CsiClient client = CsiClient.open(driver.endpoint(), fs)) {
                for (double fill : new double[] {1.0, 0.01}) {
                    measure(report, client, ws, fs, fill, reps, floor);
                }
            }
        }
    }

    private static void measure(Report report, CsiClient client, Workspace ws, String fs, double fill, int reps,
                                double floor) throws IOException {
        String label = fill >= 1.0 ? "full" : "1%";
        String source = client.create("snap-src-" + (fill >= 1.0 ? "full" : "one"), VOLUME_BYTES, Map.of());
        Path staging = ws.staging("fill-" + (fill >= 1.0 ? "full" : "one"));
        client.stage(source, staging);
        long written = fill(staging, fill);
        client.unstage(source, staging);
        Sample snapshot = new Sample();
        Sample restore = new Sample();
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            String snap = client.snapshot("snap-" + label + "-" + i, source);
            long t1 = System.nanoTime();
            String restored = client.restore("restored-" + label + "-" + i, VOLUME_BYTES, snap);
            long t2 = System.nanoTime();
            snapshot.add((t1 - t0) / 1e6);
            restore.add((t2 - t1) / 1e6);
            client.delete(restored);
            client.deleteSnapshot(snap);
        }
        client.delete(source);
        double gib = VOLUME_BYTES / (double) MIB;
        report.line("%s volume (%d MiB of data written):", label, written / MIB);
        report.sample("  CreateSnapshot", snapshot, "ms");
        report.sample("  CreateVolume from the snapshot", restore, "ms");
        double snapMiBs = gib / (snapshot.median() / 1e3);
        double restoreMiBs = gib / (restore.median() / 1e3);
        report.line("  per 1 GiB of volume: snapshot %.0f MiB/s, restore %.0f MiB/s; raw floor %.0f MiB/s",
                snapMiBs, restoreMiBs, floor);
        if (fill >= 1.0) {
            report.targetAtLeast("full: snapshot / raw", snapMiBs / floor, "", 0.8);
            report.targetAtLeast("full: restore / raw", restoreMiBs / floor, "", 0.8);
        }
    }

    /** Fills the staged filesystem to {@code fraction} of its free space with non-zero data; returns the bytes. */
    private static long fill(Path mount, double fraction) throws IOException {
        long free = Files.getFileStore(mount).getUsableSpace();
        // What ext4 or xfs still wants for its own metadata when a file grows: a little headroom.
        long target = fraction >= 1.0 ? free - 8 * MIB : (long) (VOLUME_BYTES * fraction);
        long done = 0;
        for (int i = 0; done < target; i++) {
            long chunk = Math.min(64 * MIB, target - done);
            CsiClient.write(mount.resolve("part-" + i), chunk);
            done += chunk;
        }
        return done;
    }

    /** {MiB/s read from a loop device, MiB/s written to the state dir's filesystem}, both O_DIRECT. */
    private static double[] rawBandwidth(Workspace ws) throws IOException, InterruptedException {
        Path file = ws.resolve("raw-device.img");
        long count = VOLUME_BYTES / (4 * MIB);
        Commands.run(List.of("dd", "if=/dev/urandom", "of=" + file, "bs=4M", "count=" + count, "conv=fsync", "status=none"));
        String loop = Commands.run(List.of("losetup", "--find", "--show", "--direct-io=on", file.toString())).strip();
        double read;
        try {
            long t0 = System.nanoTime();
            Commands.run(List.of("dd", "if=" + loop, "of=/dev/null", "bs=4M", "count=" + count, "iflag=direct", "status=none"));
            read = (VOLUME_BYTES / (double) MIB) / ((System.nanoTime() - t0) / 1e9);
        } finally {
            Commands.run(List.of("losetup", "-d", loop));
            Files.deleteIfExists(file);
        }
        Path out = ws.resolve("state/raw-write.img");
        long t0 = System.nanoTime();
        Commands.run(List.of("dd", "if=" + "/dev/zero", "of=" + out, "bs=4M", "count=" + count, "oflag=direct",
                "conv=fsync", "status=none"));
        double write = (VOLUME_BYTES / (double) MIB) / ((System.nanoTime() - t0) / 1e9);
        Files.deleteIfExists(out);
        return new double[] {read, write};
    }
}
