package dev.pmemcsi.bench;

import dev.pmemcsi.app.observability.Logging;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs the whole-driver benchmark scenarios and prints their figures. Started by bin/benchmark:
 * <pre>
 *   bin/benchmark [--quick] [--fs-type ext4|xfs] [--stage-device DEV]
 *                 [startup] [memory] [rpc] [provisioning] [stage] [expand] [parallelism] [erase] [jmh]
 * </pre>
 * Without scenario names, all of them run. Needs root (loop devices, mkfs, mount). The benchmarks
 * that need real NVDIMMs are separate programs in {@code dev.pmemcsi.bench.guest}.
 */
public final class Suite {

    private Suite() {}

    public static void main(String[] args) throws Exception {
        Map<String, Scenario> all = new LinkedHashMap<>();
        for (Scenario s : List.of(new StartupScenario(), new MemoryScenario(), new RpcLatencyScenario(),
                new ProvisioningScenario(), new NodeStageScenario(), new ExpansionScenario(), new SnapshotScenario(),
                new ParallelismScenario(),
                new EraseScenario(), new JmhScenario())) {
            all.put(s.name(), s);
        }
        Path repo = Path.of(System.getProperty("pmem-csi.repo", ".")).toAbsolutePath().normalize();
        boolean quick = false;
        String fsType = "ext4";
        Path stageDevice = null;
        List<Scenario> chosen = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--quick" -> quick = true;
                case "--fs-type" -> fsType = args[++i];
                case "--stage-device" -> stageDevice = Path.of(args[++i]);
                default -> {
                    Scenario s = all.get(args[i]);
                    if (s == null) {
                        System.err.println("benchmark: unknown scenario " + args[i] + "; known: " + all.keySet());
                        System.exit(2);
                    }
                    chosen.add(s);
                }
            }
        }
        if (chosen.isEmpty()) {
            chosen.addAll(all.values());
        }
        if (!Files.isExecutable(repo.resolve("bin/pmem-csi-driver"))) {
            System.err.println("benchmark: " + repo + " is not the repository (no bin/pmem-csi-driver)");
            System.exit(2);
        }
        // In-process services (the stage scenario's Node service) would drown the figures in INFO lines.
        Logging.configure(Logging.Format.TEXT, "warn");
        Scenario.Settings settings = new Scenario.Settings(repo, quick, fsType, stageDevice);
        Report report = new Report(System.out);
        System.out.printf("PMEM-CSI benchmarks on %s: %d cores, %s, Java %s, %s%n", machine(),
                Runtime.getRuntime().availableProcessors(), memTotal(), System.getProperty("java.version"),
                Report.load());
        long t0 = System.nanoTime();
        int failed = 0;
        for (Scenario s : chosen) {
            long s0 = System.nanoTime();
            try {
                s.run(settings, report);
            } catch (Exception e) {
                failed++;
                report.line("scenario %s FAILED: %s", s.name(), e);
                e.printStackTrace();
            }
            report.line("(%s took %.0f s)", s.name(), (System.nanoTime() - s0) / 1e9);
        }
        System.out.printf("%nall scenarios took %.0f s%n", (System.nanoTime() - t0) / 1e9);
        System.exit(failed == 0 ? 0 : 1);
    }

    private static String machine() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).strip() + ", kernel " + System.getProperty("os.version");
                }
            }
        } catch (java.io.IOException e) {
            // fall through
        }
        return "unknown CPU, kernel " + System.getProperty("os.version");
    }

    private static String memTotal() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    return Math.round(Long.parseLong(line.split("\\s+")[1]) / 1024.0 / 1024.0) + " GiB RAM";
                }
            }
        } catch (java.io.IOException e) {
            // fall through
        }
        return "unknown RAM";
    }
}
