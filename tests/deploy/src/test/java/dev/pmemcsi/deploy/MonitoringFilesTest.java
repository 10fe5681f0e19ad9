package dev.pmemcsi.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import dev.pmemcsi.app.observability.MetricsDoc;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The dashboard, the alert rules and the example queries in docs/metrics.md are valid, and every
 * expression in them names only documented series and their labels. The documented list itself
 * is checked against real scrapes by DriverObservabilityIT and RecordedNdctlHealthTest.
 */
class MonitoringFilesTest {

    private static final Path MONITORING = Repo.root().resolve("deploy/monitoring");
    private static final Path DASHBOARD = MONITORING.resolve("pmem-csi-dashboard.json");
    private static final Path RULES = MONITORING.resolve("pmem-csi-rules.yaml");
    /** Labels Prometheus adds to every target, and the bucket bound of histograms. */
    private static final Set<String> TARGET_LABELS = Set.of("instance", "job", "le");

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private final MetricsDoc doc = MetricsDoc.read();

    /** Fails unless {@code expr} selects at least one series and only documented ones, by documented labels. */
    private void checkExpression(String where, String expr) {
        Set<String> names = PromQl.metricNames(expr);
        assertFalse(names.isEmpty(), where + ": no metric in " + expr);
        Set<String> labels = new HashSet<>(TARGET_LABELS);
        for (String name : names) {
            MetricsDoc.Series s = doc.resolve(name);
            assertNotNull(s, where + ": " + name + " is not a documented series (" + expr + ")");
            labels.addAll(s.labels());
        }
        Set<String> used = PromQl.labelNames(expr);
        used.removeAll(labels);
        assertEquals(Set.of(), used, where + ": labels that none of " + names + " has, in " + expr);
    }

    @Test
    void documentedSeriesAreWellFormed() {
        assertTrue(doc.series().size() >= 40, "the parser found only " + doc.series().keySet());
        for (String name : List.of("pmem_amount_total", "pmem_amount_available", "pmem_amount_max_volume_size",
                "pmem_amount_managed", "build_info", "csi_plugin_operations_seconds", "csi_plugin_operations_in_flight",
                "pmem_device_operations_seconds", "pmem_volumes", "pmem_dimm_health", "pmem_region_bad_blocks",
                "pmem_volume_bad_blocks", "jvm_memory_used_bytes")) {
            assertTrue(doc.series().containsKey(name), name + " is not documented");
        }
        for (MetricsDoc.Series s : doc.series().values()) {
            assertTrue(s.labels().contains("node"), s.name() + " lacks the node label");
            assertTrue(Set.of("gauge", "counter", "histogram", "info").contains(s.type()), s.name() + ": " + s.type());
        }
        assertEquals(Set.of("node", "driver_name"), doc.series().get("pmem_amount_total").labels());
        assertEquals(Set.of("node", "driver_name", "method_name", "grpc_status_code"),
                doc.series().get("csi_plugin_operations_seconds").labels());
    }

    @Test
    void dashboardIsValidAndQueriesOnlyExportedSeries() throws IOException {
        JsonNode dash = JSON.readTree(DASHBOARD.toFile());
        assertEquals("pmem-csi", dash.get("uid").asText());
        List<JsonNode> panels = new ArrayList<>();
        dash.get("panels").forEach(p -> {
            panels.add(p);
            if (p.has("panels")) {
                p.get("panels").forEach(panels::add);
            }
        });
        Set<Integer> ids = new HashSet<>();
        Set<String> titles = new TreeSet<>();
        int queries = 0;
        for (JsonNode p : panels) {
            assertTrue(ids.add(p.get("id").asInt()), "duplicate panel id " + p.get("id"));
            assertTrue(p.has("gridPos"), p.get("title").asText());
            titles.add(p.get("title").asText());
            if (p.get("type").asText().equals("row")) {
                continue;
            }
            assertEquals("${datasource}", p.get("datasource").get("uid").asText(), p.get("title").asText());
            assertTrue(p.get("targets").size() > 0, p.get("title").asText());
            for (JsonNode t : p.get("targets")) {
                checkExpression("panel \"" + p.get("title").asText() + "\"", t.get("expr").asText());
                queries++;
            }
        }
        assertTrue(queries >= 20, "only " + queries + " queries");
        assertTrue(titles.containsAll(List.of("Capacity", "Operations", "PMEM health", "PMEM per node",
                "CSI call latency (p50, p99)", "CSI errors per second", "DIMM health", "Bad blocks per region")), titles.toString());
        for (JsonNode v : dash.get("templating").get("list")) {
            if (v.get("type").asText().equals("query")) {
                Matcher m = Pattern.compile("label_values\\((\\w+),\\s*(\\w+)\\)").matcher(v.get("definition").asText());
                assertTrue(m.matches(), v.toString());
                MetricsDoc.Series s = doc.resolve(m.group(1));
                assertNotNull(s, m.group(1));
                assertTrue(s.labels().contains(m.group(2)), v.toString());
            }
        }
    }

    @Test
    void alertRulesAreValidAndQueryOnlyExportedSeries() throws IOException {
        JsonNode rule = YAML.readTree(RULES.toFile());
        assertEquals("monitoring.coreos.com/v1", rule.get("apiVersion").asText());
        assertEquals("PrometheusRule", rule.get("kind").asText());
        Set<String> alerts = new TreeSet<>();
        for (JsonNode group : rule.get("spec").get("groups")) {
            assertFalse(group.get("name").asText().isBlank());
            for (JsonNode r : group.get("rules")) {
                String alert = r.get("alert").asText();
                assertTrue(alerts.add(alert), "duplicate alert " + alert);
                checkExpression("alert " + alert, r.get("expr").asText());
                assertTrue(Set.of("info", "warning", "critical").contains(r.get("labels").get("severity").asText()), alert);
                assertFalse(r.get("annotations").get("summary").asText().isBlank(), alert);
                if (r.has("for")) {
                    assertTrue(r.get("for").asText().matches("\\d+[smh]"), alert);
                }
            }
        }
        assertTrue(alerts.containsAll(List.of("PmemCapacityLow", "PmemBadBlocksAppeared", "PmemDimmHealthNotOk",
                "PmemCsiOperationErrors")), alerts.toString());
        assertEquals(documentedAlerts(), alerts, "docs/metrics.md lists exactly the alerts of the rules file");
    }

    @Test
    void exampleQueriesInTheDocsUseExportedSeries() throws IOException {
        String md = Files.readString(MetricsDoc.FILE);
        Matcher blocks = Pattern.compile("```promql\\n(.*?)```", Pattern.DOTALL).matcher(md);
        int n = 0;
        while (blocks.find()) {
            // One query per line, except continuation lines that start with whitespace.
            for (String q : blocks.group(1).split("\\n(?!\\s)")) {
                if (!q.isBlank()) {
                    checkExpression("docs/metrics.md example", q);
                    n++;
                }
            }
        }
        assertTrue(n >= 10, "only " + n + " example queries");
    }

    private static Set<String> documentedAlerts() throws IOException {
        Set<String> alerts = new TreeSet<>();
        Matcher m = Pattern.compile("^\\| `(Pmem\\w+)` \\|", Pattern.MULTILINE).matcher(Files.readString(MetricsDoc.FILE));
        while (m.find()) {
            alerts.add(m.group(1));
        }
        return alerts;
    }

    /** The optional component renders, with the rules and the dashboard, on top of an overlay. */
    @Test
    void monitoringComponentRendersWithAnOverlay() throws Exception {
        Path work = Files.createTempDirectory(Path.of("target"), "kustomize-monitoring");
        try {
            Files.writeString(work.resolve("kustomization.yaml"), """
                    apiVersion: kustomize.config.k8s.io/v1beta1
                    kind: Kustomization
                    resources:
                      - ../../../../deploy/kubernetes/overlays/emulated
                    components:
                      - ../../../../deploy/kubernetes/components/servicemonitor
                      - ../../../../deploy/kubernetes/components/monitoring
                    """);
            Process p = new ProcessBuilder(List.of("kubectl", "kustomize", work.toString())).redirectErrorStream(true).start();
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(120, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), out);
            Map<String, JsonNode> byKind = new LinkedHashMap<>();
            try (YAMLParser parser = new YAMLFactory().createParser(out)) {
                for (JsonNode d : YAML.readValues(parser, JsonNode.class).readAll()) {
                    byKind.put(d.get("kind").asText() + "/" + d.get("metadata").get("name").asText(), d);
                }
            }
            JsonNode rules = byKind.get("PrometheusRule/pmem-csi");
            assertNotNull(rules, byKind.keySet().toString());
            assertEquals("pmem-csi", rules.get("metadata").get("namespace").asText());
            assertEquals(YAML.readTree(RULES.toFile()).get("spec"), rules.get("spec"));
            JsonNode dashboard = byKind.get("ConfigMap/pmem-csi-dashboard");
            assertNotNull(dashboard, byKind.keySet().toString());
            assertEquals("1", dashboard.get("metadata").get("labels").get("grafana_dashboard").asText());
            assertEquals(JSON.readTree(DASHBOARD.toFile()),
                    JSON.readTree(dashboard.get("data").get("pmem-csi-dashboard.json").asText()));
            assertNotNull(byKind.get("ServiceMonitor/pmem-csi-node"));
            assertNotNull(byKind.get("DaemonSet/pmem-csi-node"), byKind.keySet().toString());
        } finally {
            try (Stream<Path> files = Files.walk(work)) {
                files.sorted((a, b) -> b.compareTo(a)).forEach(f -> f.toFile().delete());
            }
        }
    }
}
