package dev.pmemcsi.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Set;
import org.junit.jupiter.api.Test;

class PromQlTest {

    @Test
    void metricNamesSkipFunctionsKeywordsLabelsAndNumbers() {
        assertEquals(Set.of("foo_count", "bar"), PromQl.metricNames(
                "sum by (node, method) (rate(foo_count{grpc_code!~\"OK|sum\", node=~\"$node\"}[$__rate_interval])) "
                        + "/ on (node) group_left bar > 0.1e3 and 10 * 1024^3"));
        assertEquals(Set.of("x_bucket"), PromQl.metricNames("histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))"));
        assertEquals(Set.of("a", "b"), PromQl.metricNames("a unless b offset 5m"));
    }

    @Test
    void labelNamesComeFromMatchersAndGrouping() {
        assertEquals(Set.of("node", "method", "grpc_code", "le"), PromQl.labelNames(
                "sum by (le, method) (rate(x{grpc_code!=\"a,b=c\"}[5m])) / on(node) y"));
    }
}
