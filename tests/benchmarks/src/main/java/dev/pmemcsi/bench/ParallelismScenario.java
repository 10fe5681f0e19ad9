package dev.pmemcsi.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Target 5: 16 full volume lifecycles at once finish in <= 0.6x the time of the same 16 one after
 * another, on the emulated backend. Sequential and concurrent batches alternate in one driver.
 */
final class ParallelismScenario implements Scenario {

    private static final int VOLUMES = 16;
    private static final long VOLUME_BYTES = 256L << 20;
    private static final long WRITE_BYTES = 1L << 20;

    @Override
    public String name() {
        return "parallelism";
    }

    @Override
    public void run(Settings settings, Report report) throws Exception {
        report.section("5. parallelism: " + VOLUMES + " lifecycles of 256 MiB volumes (" + settings.fsType()
                + "), concurrent vs one after another, " + Runtime.getRuntime().availableProcessors() + " cores");
        int reps = settings.reps(3, 1);
        Sample sequential = new Sample();
        Sample concurrent = new Sample();
        Sample ratios = new Sample();
        try (Workspace ws = Workspace.create("parallel");
             DriverProcess driver = DriverProcess.start(settings.repo(), ws, "4Gi,4Gi", DriverProcess.Jvm.DEFAULT);
             CsiClient client = openReady(driver, settings)) {
            ExecutorService pods = Executors.newFixedThreadPool(VOLUMES);
            try {
                batch(client, ws, "warm", 2, pods);
                for (int r = 0; r < reps; r++) {
                    double s;
                    double c;
                    if (r % 2 == 0) {
                        s = batch(client, ws, "seq" + r, 1, pods);
                        c = batch(client, ws, "par" + r, VOLUMES, pods);
                    } else {
                        c = batch(client, ws, "par" + r, VOLUMES, pods);
                        s = batch(client, ws, "seq" + r, 1, pods);
                    }
                    sequential.add(s);
                    concurrent.add(c);
                    ratios.add(c / s);
                }
            } finally {
                pods.shutdown();
            }
        }
        report.sample(VOLUMES + " lifecycles one after another", sequential, "ms");
        report.sample(VOLUMES + " lifecycles concurrently", concurrent, "ms");
        report.sample("paired ratio concurrent / sequential", ratios, "");
        report.target("concurrent / sequential, medians", concurrent.median() / sequential.median(), "", 0.6);
    }

    private static CsiClient openReady(DriverProcess driver, Settings settings) throws Exception {
        driver.awaitReady(Duration.ofSeconds(60)).client().close();
        return CsiClient.open(driver.endpoint(), settings.fsType());
    }

    /** {@link #VOLUMES} lifecycles with {@code width} in flight at a time; returns the wall time in ms. */
    private static double batch(CsiClient client, Workspace ws, String tag, int width, ExecutorService pods)
            throws Exception {
        long t0 = System.nanoTime();
        for (int start = 0; start < VOLUMES; start += width) {
            List<Future<?>> running = new ArrayList<>();
            for (int v = start; v < Math.min(VOLUMES, start + width); v++) {
                String name = "par-" + tag + "-" + v;
                Path pod = ws.pod(name);
                running.add(pods.submit(() -> {
                    client.lifecycle(name, VOLUME_BYTES, WRITE_BYTES, pod);
                    return null;
                }));
            }
            for (Future<?> f : running) {
                f.get();
            }
        }
        return (System.nanoTime() - t0) / 1e6;
    }
}
