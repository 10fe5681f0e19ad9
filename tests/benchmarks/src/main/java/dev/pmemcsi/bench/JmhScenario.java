package dev.pmemcsi.bench;

import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * The JMH micro-benchmarks (in a forked JVM, with the driver's GC and compiler flags), printed with
 * their error bars and the ratio of each call with and without the RPC interceptor.
 */
final class JmhScenario implements Scenario {

    @Override
    public String name() {
        return "jmh";
    }

    @Override
    public void run(Settings settings, Report report) throws Exception {
        report.section("JMH: the driver's share of Probe and GetCapacity (in-process transport, 1 thread)");
        Options opts = new OptionsBuilder()
                .include("dev\\.pmemcsi\\.bench\\.RpcPathBenchmark")
                .verbosity(VerboseMode.SILENT)
                .measurementIterations(settings.reps(5, 2))
                .build();
        Collection<RunResult> results = new Runner(opts).run();
        Map<String, Double> score = new HashMap<>();
        for (RunResult r : results) {
            String bench = r.getParams().getBenchmark();
            String method = bench.substring(bench.lastIndexOf('.') + 1);
            String intercepted = r.getParams().getParam("intercepted");
            var p = r.getPrimaryResult();
            report.line("%-12s intercepted=%-5s %s ± %s %s", method, intercepted, Sample.fmt(p.getScore()),
                    Sample.fmt(p.getScoreError()), p.getScoreUnit());
            score.put(method + "/" + intercepted, p.getScore());
        }
        for (String m : new String[] {"probe", "getCapacity"}) {
            Double with = score.get(m + "/true");
            Double without = score.get(m + "/false");
            if (with != null && without != null) {
                report.line("ratio %s with / without interceptor: %.2f", m, with / without);
            }
        }
    }
}
