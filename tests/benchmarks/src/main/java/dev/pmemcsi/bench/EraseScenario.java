package dev.pmemcsi.bench;

import dev.pmemcsi.csi.v1.Volume;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Target 6: erase throughput >= 80% of the device's raw zero-write bandwidth, on the same device.
 * A 512 MiB volume is filled with data, unstaged and deleted with erasing on; the driver logs how
 * long zeroing its extent took. The floor writes zeroes over an equally large, already written
 * file next to the region files, then flushes it: what erasing by writing would cost there.
 */
final class EraseScenario implements Scenario {

    private static final long VOLUME_BYTES = 512L << 20;
    private static final Pattern ERASED =
            Pattern.compile("erased (\\d+) bytes at \\d+ of \\S+ by (\\S+) in (\\d+) ms");

    @Override
    public String name() {
        return "erase";
    }

    @Override
    public void run(Settings settings, Report report) throws Exception {
        report.section("6. erase: 512 MiB volume full of data, DeleteVolume with eraseafter=true");
        int reps = settings.reps(5, 2);
        Sample erase = new Sample();
        Sample deleteRpc = new Sample();
        Sample raw = new Sample();
        String method = "?";
        try (Workspace ws = Workspace.create("erase");
             DriverProcess driver = DriverProcess.start(settings.repo(), ws, "2Gi,2Gi", DriverProcess.Jvm.DEFAULT)) {
            driver.awaitReady(Duration.ofSeconds(60)).client().close();
            Path rawFile = ws.resolve("raw-zero-write.img");
            try (CsiClient client = CsiClient.open(driver.endpoint(), settings.fsType())) {
                for (int i = 0; i < reps; i++) {
                    Volume v = client.createVolume("erase-" + i, VOLUME_BYTES, Map.of("eraseafter", "true"));
                    Path staging = ws.staging("staging-" + i);
                    client.stage(v.getVolumeId(), staging);
                    CsiClient.write(staging.resolve("fill"), VOLUME_BYTES - (48L << 20));
                    client.unstage(v.getVolumeId(), staging);
                    int logFrom = driver.logText().length();
                    long t0 = System.nanoTime();
                    client.delete(v.getVolumeId());
                    double rpcMs = (System.nanoTime() - t0) / 1e6;
                    Matcher m = ERASED.matcher(driver.logText().substring(logFrom));
                    if (!m.find()) {
                        throw new IllegalStateException("the driver logged no erase for " + v.getVolumeId());
                    }
                    long bytes = Long.parseLong(m.group(1));
                    method = m.group(2);
                    erase.add(mibPerSecond(bytes, Math.max(1, Long.parseLong(m.group(3)))));
                    deleteRpc.add(mibPerSecond(bytes, rpcMs));
                    if (i == 0) {
                        fill(rawFile, bytes);
                    }
                    raw.add(mibPerSecond(bytes, zeroWrite(rawFile, bytes)));
                }
            }
        }
        report.sample("erase (" + method + ", as the driver logs it)", erase, "MiB/s");
        report.sample("DeleteVolume with erase, whole RPC", deleteRpc, "MiB/s");
        report.sample("floor: write zeroes + fsync, same filesystem", raw, "MiB/s");
        report.line("ratio erase / raw zero-write: %.2f (whole DeleteVolume: %.2f)",
                erase.median() / raw.median(), deleteRpc.median() / raw.median());
        report.targetAtLeast("erase / raw zero-write bandwidth, medians", erase.median() / raw.median(), "", 0.8);
    }

    private static double mibPerSecond(long bytes, double ms) {
        return bytes / (1024.0 * 1024.0) / (ms / 1000.0);
    }

    private static void fill(Path file, long bytes) throws IOException {
        CsiClient.write(file, bytes);
    }

    /** Overwrites the file with zeroes in 4 MiB writes and flushes it; returns the time in ms. */
    private static double zeroWrite(Path file, long bytes) throws IOException {
        ByteBuffer zeroes = ByteBuffer.allocateDirect(4 << 20);
        long t0 = System.nanoTime();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            for (long done = 0; done < bytes; ) {
                zeroes.clear().limit((int) Math.min(zeroes.capacity(), bytes - done));
                done += ch.write(zeroes, done);
            }
            ch.force(true);
        }
        return (System.nanoTime() - t0) / 1e6;
    }
}
