package dev.pmemcsi.bench;

import java.nio.file.Files;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Target 1 (start-up: process start to Probe ready, median <= 0.6 s) and target 2's idle RSS.
 * Three JVM set-ups run interleaved, so that a burst of load hits all of them alike: no class-data
 * sharing at all, the JDK's own archive only, and the driver's AppCDS archive (the default when
 * bin/build-cds made one). Each run starts a fresh driver in a fresh directory on the emulated
 * backend with the default regions (4Gi,4Gi).
 */
final class StartupScenario implements Scenario {

    /**
     * Idle is measured this long after ready: start-up garbage is collected and the launcher's
     * native-heap trim (every 5 s) has returned what the compiler freed.
     */
    private static final Duration IDLE_AFTER = Duration.ofSeconds(11);

    @Override
    public String name() {
        return "startup";
    }

    @Override
    public void run(Settings settings, Report report) throws Exception {
        report.section("1. start-up: process start -> Probe ready (emulated backend, regions 4Gi,4Gi)");
        boolean haveArchive = Files.exists(settings.repo().resolve("driver-app/target/pmem-csi-driver.jsa"));
        if (!haveArchive) {
            report.line("no AppCDS archive (driver-app/target/pmem-csi-driver.jsa); run bin/build-cds for the default set-up");
        }
        List<DriverProcess.Jvm> jvms = haveArchive
                ? List.of(DriverProcess.Jvm.NO_CDS, DriverProcess.Jvm.JDK_CDS, DriverProcess.Jvm.DEFAULT)
                : List.of(DriverProcess.Jvm.NO_CDS, DriverProcess.Jvm.JDK_CDS);
        Map<DriverProcess.Jvm, Sample> ready = new LinkedHashMap<>();
        Map<DriverProcess.Jvm, Sample> logged = new LinkedHashMap<>();
        Map<DriverProcess.Jvm, Sample> idle = new LinkedHashMap<>();
        jvms.forEach(j -> {
            ready.put(j, new Sample());
            logged.put(j, new Sample());
            idle.put(j, new Sample());
        });
        int runs = settings.reps(9, 3);
        // One unmeasured start warms the page cache with the jars and the archive.
        once(settings, jvms.get(jvms.size() - 1), null, null, null, false);
        for (int i = 0; i < runs; i++) {
            for (DriverProcess.Jvm jvm : jvms) {
                // Idle RSS on a few runs only: each costs the idle wait.
                boolean measureIdle = i < 2;
                once(settings, jvm, ready.get(jvm), logged.get(jvm), idle.get(jvm), measureIdle);
            }
        }
        for (DriverProcess.Jvm jvm : jvms) {
            report.line("%s:", jvm.name());
            report.sample("  process start -> Probe ready", ready.get(jvm), "ms");
            report.sample("  of which the driver logs (services + devices)", logged.get(jvm), "ms");
            report.sample("  idle VmRSS " + IDLE_AFTER.toSeconds() + " s after ready", idle.get(jvm), "MiB");
        }
        DriverProcess.Jvm chosen = jvms.get(jvms.size() - 1);
        for (DriverProcess.Jvm jvm : jvms) {
            if (jvm != chosen) {
                report.line("ratio start-up %s / %s: %.2f", chosen.name(), jvm.name(),
                        ready.get(chosen).median() / ready.get(jvm).median());
            }
        }
        report.target("start-up median (" + chosen.name() + ")", ready.get(chosen).median() / 1000, "s", 0.6);
        report.target("idle VmRSS median (" + chosen.name() + ")", idle.get(chosen).median(), "MiB", 72);
    }

    private static void once(Settings settings, DriverProcess.Jvm jvm, Sample ready, Sample logged, Sample idle,
                             boolean measureIdle) throws Exception {
        try (Workspace ws = Workspace.create("startup")) {
            try (DriverProcess driver = DriverProcess.start(settings.repo(), ws, "4Gi,4Gi", jvm)) {
                DriverProcess.Ready r = driver.awaitReady(Duration.ofSeconds(60));
                r.client().close();
                if (ready != null) {
                    ready.add(r.millis());
                    logged.add(driver.loggedReadyMillis());
                }
                if (measureIdle && idle != null) {
                    Thread.sleep(IDLE_AFTER.toMillis());
                    idle.add(ProcStatus.mib(driver.status().vmRssKib()));
                }
            }
        }
    }
}
