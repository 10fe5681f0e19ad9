package dev.pmemcsi.app.observability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.InMemoryDeviceManager;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
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
