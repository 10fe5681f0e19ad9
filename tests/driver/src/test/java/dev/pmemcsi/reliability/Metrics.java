package dev.pmemcsi.reliability;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** The driver's Prometheus endpoint, read as "metric name → sum over its label sets". */
final class Metrics {

    private final int port;

    Metrics() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress("127.0.0.1", 0));
            port = s.getLocalPort();
        }
    }

    /** The driver flags that serve metrics on this port. */
    List<String> flags() {
        return List.of("--metrics-address", "127.0.0.1:" + port);
    }

    /** The exposition's lines. */
    List<String> scrapeLines() throws IOException, InterruptedException {
        HttpClient http = HttpClient.newHttpClient();
        String body = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        return List.of(body.split("\n"));
    }

    Map<String, Double> scrape() throws IOException, InterruptedException {
        Map<String, Double> sums = new HashMap<>();
        for (String line : scrapeLines()) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            int brace = line.indexOf('{');
            int space = line.lastIndexOf(' ');
            String name = line.substring(0, brace >= 0 ? brace : line.indexOf(' '));
            sums.merge(name, Double.parseDouble(line.substring(space + 1)), Double::sum);
        }
        return sums;
    }
}
