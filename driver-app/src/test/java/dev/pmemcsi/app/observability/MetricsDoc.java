package dev.pmemcsi.app.observability;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The series that docs/metrics.md documents: every table row under "## Series" whose first cell is
 * a metric name in backticks, with its type and labels.
 */
public record MetricsDoc(Map<String, Series> series) {

    /** docs/metrics.md, from driver-app or from a module that passes the repository's root. */
    public static final Path FILE = Path.of(System.getProperty("pmemcsi.repoRoot", "..")).resolve("docs/metrics.md");

    public record Series(String name, String type, Set<String> labels) {

        /** The sample names a scrape shows for this series. */
        public List<String> sampleNames() {
            return type.equals("histogram") ? List.of(name + "_bucket", name + "_count", name + "_sum") : List.of(name);
        }
    }

    private static final Pattern ROW = Pattern.compile("^\\|\\s*`([a-z_:][a-z0-9_:]*)`\\s*\\|\\s*(\\w+)\\s*\\|([^|]*)\\|.*");

    public static MetricsDoc read() {
        try {
            return parse(Files.readString(FILE));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static MetricsDoc parse(String markdown) {
        Map<String, Series> series = new LinkedHashMap<>();
        boolean inSeries = false;
        for (String line : markdown.split("\n")) {
            if (line.startsWith("## ")) {
                inSeries = line.equals("## Series");
                continue;
            }
            Matcher m = ROW.matcher(line);
            if (inSeries && m.matches()) {
                Set<String> labels = new TreeSet<>();
                Arrays.stream(m.group(3).split(",")).map(String::strip).filter(s -> !s.isEmpty())
                        .map(s -> s.replace("`", "")).forEach(labels::add);
                if (series.put(m.group(1), new Series(m.group(1), m.group(2), labels)) != null) {
                    throw new AssertionError(m.group(1) + " is documented twice");
                }
            }
        }
        return new MetricsDoc(series);
    }

    /** The documented series a PromQL metric name refers to, e.g. a histogram for {@code x_bucket}. */
    public Series resolve(String metricName) {
        Series s = series.get(metricName);
        if (s != null) {
            return s;
        }
        for (String suffix : List.of("_bucket", "_count", "_sum")) {
            if (metricName.endsWith(suffix)) {
                Series h = series.get(metricName.substring(0, metricName.length() - suffix.length()));
                if (h != null && h.type().equals("histogram")) {
                    return h;
                }
            }
        }
        return null;
    }

    public List<Series> matching(java.util.function.Predicate<String> name) {
        List<Series> out = new ArrayList<>();
        series.values().stream().filter(s -> name.test(s.name())).forEach(out::add);
        return out;
    }
}
