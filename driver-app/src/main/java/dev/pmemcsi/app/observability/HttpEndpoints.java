package dev.pmemcsi.app.observability;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;

/**
 * The HTTP side of the driver, on {@code --metrics-address}: Prometheus metrics, liveness
 * ({@code /healthz}: the process and its gRPC server are up) and readiness ({@code /readyz}:
 * the device layer has initialised and its backend answers).
 */
public final class HttpEndpoints implements AutoCloseable {

    private final HttpServer server;

    private HttpEndpoints(HttpServer server) {
        this.server = server;
    }

    public static HttpEndpoints start(String address, PrometheusMeterRegistry registry, HealthChecks health)
            throws IOException {
        HttpServer server = HttpServer.create(parse(address), 16);
        server.createContext("/metrics", ex -> {
            String accept = ex.getRequestHeaders().getFirst("Accept");
            String body = registry.scrape(accept == null ? "text/plain" : accept);
            String type = accept != null && accept.contains("application/openmetrics-text")
                    ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                    : "text/plain; version=0.0.4; charset=utf-8";
            send(ex, 200, type, body);
        });
        server.createContext("/healthz", ex -> probe(ex, health.liveness()));
        server.createContext("/readyz", ex -> probe(ex, health.readiness()));
        server.setExecutor(Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "http-endpoints");
            t.setDaemon(true);
            return t;
        }));
        server.start();
        return new HttpEndpoints(server);
    }

    /** The bound port: the one asked for, or the one the kernel chose for port 0. */
    public int port() {
        return server.getAddress().getPort();
    }

    static InetSocketAddress parse(String address) {
        int colon = address.lastIndexOf(':');
        if (colon < 0) {
            throw new IllegalArgumentException("--metrics-address must be HOST:PORT or :PORT, not \"" + address + "\"");
        }
        String host = address.substring(0, colon);
        int port;
        try {
            port = Integer.parseInt(address.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--metrics-address has no valid port: \"" + address + "\"");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("--metrics-address port out of range: " + port);
        }
        return host.isEmpty() ? new InetSocketAddress(port) : new InetSocketAddress(host, port);
    }

    private static void probe(HttpExchange ex, HealthChecks.Result result) throws IOException {
        send(ex, result.ok() ? 200 : 503, "text/plain; charset=utf-8", result.detail() + "\n");
    }

    private static void send(HttpExchange ex, int code, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(code, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
