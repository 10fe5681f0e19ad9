package dev.pmemcsi.app.observability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.InMemoryDeviceManager;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.net.Socket;
import java.net.SocketException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class HttpEndpointsTest {

    private final AtomicBoolean grpcUp = new AtomicBoolean(true);
    private final AtomicBoolean initialised = new AtomicBoolean(false);
    private final AtomicBoolean backendFails = new AtomicBoolean(false);
    private final InMemoryDeviceManager memory = new InMemoryDeviceManager(16L << 20, new long[] {256L << 20});
    private final HttpClient client = HttpClient.newHttpClient();
    private HttpEndpoints http;

    @BeforeEach
    void start() throws Exception {
        DeviceManager devices = (DeviceManager) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {DeviceManager.class}, (proxy, method, args) -> {
                    if (method.getName().equals("capacity") && backendFails.get()) {
                        throw new DeviceException("cannot read /sys/bus/nd: EIO");
                    }
                    try {
                        return method.invoke(memory, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        PrometheusMeterRegistry registry = DriverMetrics.newRegistry("node-a");
        registry.counter("probe_counter").increment();
        http = HttpEndpoints.start("127.0.0.1:0", registry, new HealthChecks(grpcUp::get, initialised::get, devices));
    }

    @AfterEach
    void stop() {
        http.close();
    }

    private HttpResponse<String> get(String path, String accept) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http.port() + path));
        if (accept != null) {
            b.header("Accept", accept);
        }
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void readinessFollowsInitialisationAndTheBackend() throws Exception {
        HttpResponse<String> r = get("/readyz", null);
        assertEquals(503, r.statusCode());
        assertEquals("the device layer (memory) is still initialising\n", r.body());
        assertEquals(200, get("/healthz", null).statusCode(), "alive while initialising");

        memory.start();
        initialised.set(true);
        r = get("/readyz", null);
        assertEquals(200, r.statusCode());
        assertEquals("ok\n", r.body());

        backendFails.set(true);
        r = get("/readyz", null);
        assertEquals(503, r.statusCode());
        assertTrue(r.body().contains("backend does not answer: cannot read /sys/bus/nd: EIO"), r.body());
        assertEquals(200, get("/healthz", null).statusCode(), "a failing backend is not a reason to restart");
    }

    @Test
    void livenessFollowsTheGrpcServer() throws Exception {
        assertEquals(200, get("/healthz", null).statusCode());
        grpcUp.set(false);
        HttpResponse<String> r = get("/healthz", null);
        assertEquals(503, r.statusCode());
        assertEquals("the gRPC server is not running\n", r.body());
        assertEquals(503, get("/readyz", null).statusCode());
    }

    /** The status line of a GET over a fresh connection, or a failure when none comes within 3 s. */
    private String statusLine(String path) throws Exception {
        try (Socket s = new Socket("127.0.0.1", http.port())) {
            s.setSoTimeout(3000);
            s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            String response = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            return response.substring(0, response.indexOf("\r\n"));
        }
    }

    /**
     * A client that sends half a request and keeps the connection open, as a stalled scraper or a
     * port scanner does, must neither delay kubelet's probes nor hold a thread for ever.
     */
    @Test
    void aHalfSentRequestNeitherBlocksTheProbesNorStaysOpen() throws Exception {
        try (Socket slow = new Socket("127.0.0.1", http.port())) {
            slow.getOutputStream().write("GET /metrics HTTP/1.1\r\nHost: localhost\r\n".getBytes(StandardCharsets.US_ASCII));
            slow.getOutputStream().flush();
            Thread.sleep(300); // the server has begun reading it
            long t0 = System.nanoTime();
            assertEquals("HTTP/1.1 200 OK", statusLine("/healthz"));
            assertEquals("HTTP/1.1 503 Service Unavailable", statusLine("/readyz"));
            long probes = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertTrue(probes < 2000, "the probes took " + probes + " ms behind a slow client");

            slow.setSoTimeout((int) TimeUnit.SECONDS.toMillis(HttpEndpoints.REQUEST_SECONDS + 5));
            int read;
            try {
                read = slow.getInputStream().read();
            } catch (SocketException reset) {
                read = -1;
            }
            long closedAfter = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertEquals(-1, read, "the server answered a request it never fully received");
            assertTrue(closedAfter <= TimeUnit.SECONDS.toMillis(HttpEndpoints.REQUEST_SECONDS + 2),
                    "the half-open connection was closed only after " + closedAfter + " ms");
        }
    }

    @Test
    void metricsSpeakTextAndOpenMetrics() throws Exception {
        HttpResponse<String> text = get("/metrics", null);
        assertEquals(200, text.statusCode());
        assertTrue(text.headers().firstValue("Content-Type").orElseThrow().startsWith("text/plain; version=0.0.4"));
        assertEquals(1, Scrape.parse(text.body()).require("probe_counter_total", "node", "node-a"));
        HttpResponse<String> open = get("/metrics", "application/openmetrics-text; version=1.0.0");
        assertTrue(open.headers().firstValue("Content-Type").orElseThrow().startsWith("application/openmetrics-text"));
        assertTrue(open.body().endsWith("# EOF\n"), open.body());
    }
}
