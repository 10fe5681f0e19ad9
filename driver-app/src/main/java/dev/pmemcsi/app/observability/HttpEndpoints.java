package dev.pmemcsi.app.observability;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The HTTP side of the driver, on {@code --metrics-address}: Prometheus metrics, liveness
 * ({@code /healthz}: the process and its gRPC server are up) and readiness ({@code /readyz}:
 * the device layer has initialised and its backend answers).
 *
 * <p>Kubelet's probes share the port with anyone who can reach it. A client that sends half a
 * request and waits holds a thread while the server reads, so requests are read by a small pool
 * (one slow client cannot delay the probes) and a request not received within
 * {@link #REQUEST_SECONDS} has its connection closed (slow clients cannot hold the pool for ever).
 */
public final class HttpEndpoints implements AutoCloseable {

    /** How long a client may take to send its request line and headers. */
    static final int REQUEST_SECONDS = 5;
    /** How long a handler and the sending of its response may take; a scrape takes milliseconds. */
    static final int RESPONSE_SECONDS = 30;
    /** Threads that read requests and answer them; idle ones end after a minute. */
    static final int THREADS = 4;

    static {
        // The JDK's server reads its timeouts from these properties once, when the first server
        // is created, and has no other way to set them. Without them it waits for ever. A value
        // given with -D on the command line wins.
        setIfAbsent("sun.net.httpserver.maxReqTime", REQUEST_SECONDS);
        setIfAbsent("sun.net.httpserver.maxRspTime", RESPONSE_SECONDS);
    }

    private static void setIfAbsent(String property, int seconds) {
        if (System.getProperty(property) == null) {
            System.setProperty(property, Integer.toString(seconds));
        }
    }

    private final HttpServer server;
    private final ThreadPoolExecutor executor;

    private HttpEndpoints(HttpServer server, ThreadPoolExecutor executor) {
        this.server = server;
        this.executor = executor;
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
        AtomicInteger n = new AtomicInteger();
        ThreadPoolExecutor executor = new ThreadPoolExecutor(THREADS, THREADS, 60, TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(), r -> {
                    Thread t = new Thread(r, "http-endpoints-" + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        executor.allowCoreThreadTimeOut(true);
        server.setExecutor(executor);
        server.start();
        return new HttpEndpoints(server, executor);
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
        executor.shutdownNow();
    }
}
