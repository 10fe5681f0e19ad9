package dev.pmemcsi.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Target 2: idle RSS <= 72 MiB and peak RSS <= 110 MiB under the fixed stress on the emulated backend (regions 4Gi,4Gi):
 * rounds of 10 concurrent volumes of 256 MiB, each created, staged, published, written,
 * unpublished, unstaged and deleted. The driver's VmRSS is sampled every 50 ms; VmHWM is the
 * kernel's own high-water mark of the same process, so a peak between samples is not missed.
 */
final class MemoryScenario implements Scenario {

    private static final long VOLUME_BYTES = 256L << 20;
    private static final long WRITE_BYTES = 1L << 20;
    private static final int CONCURRENT = 10;

    @Override
    public String name() {
        return "memory";
    }

    @Override
    public void run(Settings settings, Report report) throws Exception {
        int rounds = settings.reps(100, 10);
        report.section("2. memory: idle RSS, then " + rounds + " rounds x " + CONCURRENT + " concurrent 256 MiB volume"
                + " lifecycles (" + settings.fsType() + ", 1 MiB written each; regions 4Gi,4Gi)");
        // The targets are held against a driver started exactly as operators start it. Native
        // memory tracking costs memory of its own (its headers on every malloc), so the account
        // comes from a second driver with it switched on, under the same stress.
        Pass plain = pass(settings, report, rounds, DriverProcess.Jvm.DEFAULT, false);
        report.target("idle VmRSS", ProcStatus.mib(plain.idle().vmRssKib()), "MiB", 72);
        report.target("peak RSS (VmHWM)", ProcStatus.mib(plain.after().vmHwmKib()), "MiB", 110);
        if (Boolean.parseBoolean(System.getProperty("pmem-csi.bench.memory-account", "true"))) {
            report.line("account: the same with -XX:NativeMemoryTracking=summary (figures include NMT's own)");
            pass(settings, report, rounds, new DriverProcess.Jvm("launcher defaults + AppCDS + NMT", null,
                    "-XX:NativeMemoryTracking=summary"), true);
        }
    }

    private record Pass(ProcStatus idle, ProcStatus after) {}

    private static Pass pass(Settings settings, Report report, int rounds, DriverProcess.Jvm jvm, boolean account)
            throws Exception {
        try (Workspace ws = Workspace.create("memory");
             DriverProcess driver = DriverProcess.start(settings.repo(), ws, "4Gi,4Gi", jvm)) {
            DriverProcess.Ready ready = driver.awaitReady(Duration.ofSeconds(60));
            ready.client().close();
            Thread.sleep(11_000);
            ProcStatus idle = driver.status();
            report.line("idle, 11 s after ready: %s", idle);
            if (account) {
                report.line("  %s", MemoryAccount.smaps(driver.pid()));
                report.line("  NMT %s", MemoryAccount.nmt(driver.pid()));
            }

            AtomicLong maxRss = new AtomicLong();
            Sample rssSamples = new Sample();
            ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor();
            sampler.scheduleAtFixedRate(() -> {
                long rss = driver.status().vmRssKib();
                if (rss > 0) {
                    maxRss.accumulateAndGet(rss, Math::max);
                    rssSamples.add(ProcStatus.mib(rss));
                }
            }, 0, 50, TimeUnit.MILLISECONDS);

            Sample roundMs = new Sample();
            int failures = 0;
            String firstFailure = null;
            ExecutorService pods = Executors.newFixedThreadPool(CONCURRENT);
            try (CsiClient client = CsiClient.open(driver.endpoint(), settings.fsType())) {
                for (int round = 0; round < rounds; round++) {
                    long t0 = System.nanoTime();
                    List<Future<?>> futures = new ArrayList<>();
                    for (int v = 0; v < CONCURRENT; v++) {
                        String name = "stress-" + round + "-" + v;
                        Path pod = ws.pod(name);
                        futures.add(pods.submit(() -> {
                            client.lifecycle(name, VOLUME_BYTES, WRITE_BYTES, pod);
                            return null;
                        }));
                    }
                    for (Future<?> f : futures) {
                        try {
                            f.get();
                        } catch (java.util.concurrent.ExecutionException e) {
                            failures++;
                            if (firstFailure == null) {
                                firstFailure = e.getCause().toString();
                            }
                        }
                    }
                    roundMs.add((System.nanoTime() - t0) / 1e6);
                }
            } finally {
                pods.shutdown();
                sampler.shutdown();
                sampler.awaitTermination(5, TimeUnit.SECONDS);
            }
            ProcStatus after = driver.status();
            String afterSmaps = account ? MemoryAccount.smaps(driver.pid()) : null;
            String afterNmt = account ? MemoryAccount.nmt(driver.pid()) : null;
            Thread.sleep(11_000);
            ProcStatus settled = driver.status();
            report.sample("round of " + CONCURRENT + " lifecycles", roundMs, "ms");
            report.sample("sampled VmRSS during the stress", rssSamples, "MiB");
            report.line("failed lifecycles: %d of %d%s", failures, rounds * CONCURRENT,
                    firstFailure == null ? "" : " (first: " + firstFailure + ")");
            report.line("right after the stress: %s", after);
            if (account) {
                report.line("  %s", afterSmaps);
                report.line("  NMT %s", afterNmt);
            }
            report.line("11 s later: %s", settled);
            report.line("(max sampled VmRSS %.1f MiB)", ProcStatus.mib(maxRss.get()));
            return new Pass(idle, after);
        }
    }
}
