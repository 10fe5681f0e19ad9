package dev.pmemcsi.bench;

import java.util.Arrays;
import java.util.Locale;

/**
 * Measured values of one quantity. Medians and percentiles rather than means: on a shared
 * two-core machine a single stall moves a mean far more than the typical run.
 */
final class Sample {

    private double[] values = new double[16];
    private int n;

    static Sample of(double... values) {
        Sample s = new Sample();
        for (double v : values) {
            s.add(v);
        }
        return s;
    }

    synchronized void add(double v) {
        if (n == values.length) {
            values = Arrays.copyOf(values, n * 2);
        }
        values[n++] = v;
    }

    synchronized void addAll(Sample other) {
        for (double v : other.sorted()) {
            add(v);
        }
    }

    synchronized int size() {
        return n;
    }

    synchronized double[] sorted() {
        double[] s = Arrays.copyOf(values, n);
        Arrays.sort(s);
        return s;
    }

    /** Nearest-rank percentile, {@code p} in [0, 100]. */
    double percentile(double p) {
        double[] s = sorted();
        if (s.length == 0) {
            return Double.NaN;
        }
        int rank = (int) Math.ceil(p / 100.0 * s.length);
        return s[Math.max(0, Math.min(s.length - 1, rank - 1))];
    }

    double median() {
        return percentile(50);
    }

    double min() {
        return percentile(0);
    }

    double max() {
        return percentile(100);
    }

    /** "median 12.3 (p10 11.0, p90 15.2, min 10.9, max 18.0, n 9)" in the given unit. */
    String summary(String unit) {
        return String.format(Locale.ROOT, "median %s %s (p10 %s, p90 %s, min %s, max %s, n %d)",
                fmt(median()), unit, fmt(percentile(10)), fmt(percentile(90)), fmt(min()), fmt(max()), size());
    }

    static String fmt(double v) {
        if (Double.isNaN(v)) {
            return "n/a";
        }
        double a = Math.abs(v);
        return String.format(Locale.ROOT, a >= 100 ? "%.0f" : a >= 10 ? "%.1f" : a >= 1 ? "%.2f" : "%.3f", v);
    }
}
