package dev.pmemcsi.bench;

import dev.pmemcsi.csi.v1.Volume;
import dev.pmemcsi.pmemnative.mount.Filesystems;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Target 4 on the host: NodeStage against bare mkfs + mount (ratio <= 1.5), and CreateVolume +
 * NodeStage on the emulated backend against losetup + mkfs + mount (ratio <= 1.2). The floors use
 * the driver's own mkfs arguments and a fresh (all-zero, sparse) file of the volume's device size
 * on the same filesystem as the region files; driver and floor alternate which goes first.
 */
final class ProvisioningScenario implements Scenario {

    private static final long VOLUME_BYTES = 1L << 30;

    @Override
    public String name() {
        return "provisioning";
    }

    @Override
    public void run(Settings settings, Report report) throws Exception {
        String fs = settings.fsType();
        report.section("4. provisioning: 1 GiB volume, " + fs + ", emulated backend vs the bare tools");
        int reps = settings.reps(10, 3);
        Sample create = new Sample();
        Sample stage = new Sample();
        Sample createStage = new Sample();
        Sample floorMkfsMount = new Sample();
        Sample floorLosetupMkfsMount = new Sample();
        Sample stageRatios = new Sample();
        Sample createStageRatios = new Sample();
        try (Workspace ws = Workspace.create("provisioning");
             DriverProcess driver = DriverProcess.start(settings.repo(), ws, "4Gi,4Gi", DriverProcess.Jvm.DEFAULT)) {
            driver.awaitReady(Duration.ofSeconds(60)).client().close();
            try (CsiClient client = CsiClient.open(driver.endpoint(), fs)) {
                long deviceBytes = VOLUME_BYTES;
                for (int i = -1; i < reps; i++) {   // i == -1 warms both paths up, unrecorded
                    double[] d = null;
                    double[] f = null;
                    if (i % 2 == 0) {
                        d = driverOnce(client, ws, i);
                        f = floorOnce(ws, fs, deviceBytes);
                    } else {
                        f = floorOnce(ws, fs, deviceBytes);
                        d = driverOnce(client, ws, i);
                    }
                    if (i < 0) {
                        continue;
                    }
                    create.add(d[0]);
                    stage.add(d[1]);
                    createStage.add(d[0] + d[1]);
                    floorMkfsMount.add(f[1]);
                    floorLosetupMkfsMount.add(f[0] + f[1]);
                    stageRatios.add(d[1] / f[1]);
                    createStageRatios.add((d[0] + d[1]) / (f[0] + f[1]));
                }
            }
        }
        report.sample("CreateVolume", create, "ms");
        report.sample("NodeStageVolume (probe, mkfs, mount)", stage, "ms");
        report.sample("CreateVolume + NodeStageVolume", createStage, "ms");
        report.sample("floor: mkfs + mount", floorMkfsMount, "ms");
        report.sample("floor: losetup + mkfs + mount", floorLosetupMkfsMount, "ms");
        report.line("paired ratios: NodeStage / (mkfs + mount) %s; Create+Stage / (losetup + mkfs + mount) %s",
                stageRatios.summary(""), createStageRatios.summary(""));
        report.target("NodeStage / (mkfs + mount), medians", stage.median() / floorMkfsMount.median(), "", 1.5);
        report.target("Create+Stage / (losetup+mkfs+mount), medians",
                createStage.median() / floorLosetupMkfsMount.median(), "", 1.2);
    }

    /** CreateVolume and NodeStage, timed one by one; then unstage and delete, untimed. */
    private static double[] driverOnce(CsiClient client, Workspace ws, int i) {
        Path staging = ws.staging("staging-" + (i + 1));
        long t0 = System.nanoTime();
        Volume v = client.createVolume("prov-" + (i + 1), VOLUME_BYTES, Map.of());
        long t1 = System.nanoTime();
        client.stage(v.getVolumeId(), staging);
        long t2 = System.nanoTime();
        client.unstage(v.getVolumeId(), staging);
        client.delete(v.getVolumeId());
        return new double[] {(t1 - t0) / 1e6, (t2 - t1) / 1e6};
    }

    /** losetup, then mkfs + mount, timed apart; then umount and detach, untimed. */
    private static double[] floorOnce(Workspace ws, String fs, long bytes) throws IOException, InterruptedException {
        Path file = ws.resolve("floor.img");
        Path mnt = Files.createDirectories(ws.resolve("floor-mnt"));
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(bytes);
        }
        String device = null;
        boolean mounted = false;
        try {
            long t0 = System.nanoTime();
            device = Commands.run(List.of("losetup", "--find", "--show", file.toString())).strip();
            long t1 = System.nanoTime();
            Commands.run(Filesystems.mkfsArgv(fs, Path.of(device)));
            Commands.run(List.of("mount", "-t", fs, device, mnt.toString()));
            mounted = true;
            long t2 = System.nanoTime();
            return new double[] {(t1 - t0) / 1e6, (t2 - t1) / 1e6};
        } finally {
            if (mounted) {
                Commands.run(List.of("umount", mnt.toString()));
            }
            if (device != null) {
                Commands.run(List.of("losetup", "-d", device));
            }
            Files.deleteIfExists(file);
        }
    }
}
