package dev.pmemcsi.reliability;

import static dev.pmemcsi.reliability.Csi.MIB;
import static dev.pmemcsi.reliability.Csi.retrying;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.pmemcsi.device.VolumeIds;
import io.grpc.Status.Code;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * kill -9 at random moments while {@value #WORKERS} clients run whole volume lifecycles
 * (create, stage, publish, write, unpublish, unstage, delete) and ephemeral publications. After each
 * kill a new driver starts over the same state and the clients' pending work is retried to its
 * end, as kubelet and external-provisioner would; then nothing may be left. Fixed size and seed:
 * {@value #ROUNDS} kills, at {@value #MIN_DELAY_MS}–{@value #MAX_DELAY_MS} ms into the load.
 */
class RandomKillIT {

    static final int ROUNDS = 6;
    static final int WORKERS = 4;
    static final long SEED = 20240601L;
    static final int MIN_DELAY_MS = 300;
    static final int MAX_DELAY_MS = 2500;

    @Test
    void killNineUnderLoadLeavesNothingBehind() throws Exception {
        Random rnd = new Random(SEED);
        try (Workspace ws = new Workspace("kill9")) {
            Backend backend = new Backend(ws);
            DriverProcess driver = DriverProcess.start(ws);
            long initial = driver.csi().available();
            int[] codesInternal = {0};
            for (int round = 0; round < ROUNDS; round++) {
                List<Path> stagings = new ArrayList<>();
                List<Path> targets = new ArrayList<>();
                List<Path> inlineTargets = new ArrayList<>();
                for (int w = 0; w < WORKERS; w++) {
                    stagings.add(ws.newStagingPath());
                    targets.add(ws.newTargetPath());
                    inlineTargets.add(ws.newTargetPath());
                }
                AtomicBoolean stop = new AtomicBoolean();
                Csi csi = driver.csi();
                ExecutorService pool = Executors.newFixedThreadPool(WORKERS);
                List<Future<?>> load = new ArrayList<>();
                int r = round;
                for (int w = 0; w < WORKERS; w++) {
                    int worker = w;
                    load.add(pool.submit(() -> {
                        String name = "kill-" + r + "-" + worker;
                        String id = VolumeIds.fromName(name);
                        for (int step = 0; !stop.get(); step = (step + 1) % 8) {
                            Runnable op = switch (step) {
                                case 0 -> () -> csi.create(name, 32 * MIB);
                                case 1 -> () -> csi.stage(id, stagings.get(worker), Csi.mount());
                                case 2 -> () -> csi.publish(id, stagings.get(worker), targets.get(worker), Csi.mount());
                                case 3 -> () -> csi.unpublish(id, targets.get(worker));
                                case 4 -> () -> csi.unstage(id, stagings.get(worker));
                                case 5 -> () -> csi.delete(id);
                                case 6 -> () -> csi.node().nodePublishVolume(
                                        Csi.ephemeralRequest("inline-" + name, inlineTargets.get(worker), "16Mi"));
                                default -> () -> csi.unpublish("inline-" + name, inlineTargets.get(worker));
                            };
                            if (Csi.codeOf(op) == Code.INTERNAL) {
                                synchronized (codesInternal) {
                                    codesInternal[0]++;
                                }
                            }
                        }
                        return null;
                    }));
                }
                Thread.sleep(MIN_DELAY_MS + rnd.nextInt(MAX_DELAY_MS - MIN_DELAY_MS));
                driver.kill9();
                stop.set(true);
                for (Future<?> f : load) {
                    f.get(2, TimeUnit.MINUTES);
                }
                pool.shutdown();
                driver.close();
                driver = DriverProcess.start(ws);
                Csi after = driver.csi();
                // What the orchestrator does next: tear every pod's volume down and delete the claims.
                for (int w = 0; w < WORKERS; w++) {
                    String name = "kill-" + round + "-" + w;
                    String id = VolumeIds.fromName(name);
                    Path target = targets.get(w);
                    Path inlineTarget = inlineTargets.get(w);
                    Path staging = stagings.get(w);
                    retrying(() -> after.unpublish("inline-" + name, inlineTarget));
                    retrying(() -> after.unpublish(id, target));
                    retrying(() -> after.unstage(id, staging));
                    retrying(() -> after.delete(id));
                }
                assertEquals(List.of(), after.listAll(), "round " + round);
                assertEquals(List.of(), backend.rows(), "round " + round);
                assertEquals(List.of(), backend.nodeRecords(), "round " + round);
                assertEquals(initial, after.available(), "round " + round);
                assertEquals(List.of(), Host.mountsUnder(ws.root), "round " + round);
                assertEquals(List.of(), Host.loopsUnder(ws.root), "round " + round);
            }
            driver.stop();
            ws.assertNothingHeld();
            assertEquals(0, codesInternal[0], "no call answered INTERNAL");
        }
    }
}
