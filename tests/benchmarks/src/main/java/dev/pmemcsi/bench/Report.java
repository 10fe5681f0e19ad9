package dev.pmemcsi.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * What the suite prints: figures with their spreads, ratios against the floor measured in the
 * same run, and the target each is held against. "within target" and "MISSES target" are
 * information for the reader, never a failure: benchmarks do not assert.
 */
final class Report {

    private final PrintStream out;

    Report(PrintStream out) {
        this.out = out;
    }

    void section(String title) {
        out.printf(Locale.ROOT, "%n== %s   [%s]%n", title, load());
    }

    void line(String format, Object... args) {
        out.printf(Locale.ROOT, "   " + format + "%n", args);
    }

    void sample(String what, Sample s, String unit) {
        line("%-44s %s", what, s.summary(unit));
    }

    /** A figure held against an upper bound. */
    void target(String what, double value, String unit, double bound) {
        line(">> %-41s %s %s (target <= %s %s): %s", what, Sample.fmt(value), unit, Sample.fmt(bound), unit,
                value <= bound ? "within target" : "MISSES target");
    }

    /** A figure held against a lower bound. */
    void targetAtLeast(String what, double value, String unit, double bound) {
        line(">> %-41s %s %s (target >= %s %s): %s", what, Sample.fmt(value), unit, Sample.fmt(bound), unit,
                value >= bound ? "within target" : "MISSES target");
    }

    /** The machine's load averages, so a reader can judge how busy it was during a figure. */
    static String load() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return "load " + f[0] + " " + f[1] + " " + f[2];
        } catch (IOException e) {
            return "load unknown";
        }
    }
}
