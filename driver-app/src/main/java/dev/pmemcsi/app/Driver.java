package dev.pmemcsi.app;

import dev.pmemcsi.app.observability.DeviceOperationMetrics;
import dev.pmemcsi.app.observability.DriverMetrics;
import dev.pmemcsi.app.observability.HealthChecks;
import dev.pmemcsi.app.observability.HttpEndpoints;
import dev.pmemcsi.app.observability.InstrumentedDeviceManager;
import dev.pmemcsi.app.observability.Logging;
import dev.pmemcsi.app.observability.RpcInterceptor;
import dev.pmemcsi.controller.ControllerService;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.driver.DriverConfig;
import dev.pmemcsi.driver.VolumeLocks;
import dev.pmemcsi.driver.VolumeUsage;
import dev.pmemcsi.node.NodeService;
import io.grpc.BindableService;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running driver: the device layer, the CSI services it serves, the gRPC server, and the HTTP
 * endpoints. Start-up order matters: the socket answers Probe (not ready) as soon as it exists,
 * the device layer then recovers its volumes, and only then do Controller and Node calls go through.
 */
public final class Driver implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Driver.class);

    private final DriverOptions options;
    private final DriverConfig config;
    private final DeviceManager devices;
    // Observability: the registry, and the listener that times device operations and logs slow ones.
    private final PrometheusMeterRegistry registry;
    private final DeviceOperationMetrics operations;
    private final VolumeLocks locks = new VolumeLocks();
    private volatile boolean ready;
    private NodeService node;
    private CsiServer server;
    private volatile HttpEndpoints http;

    /** A driver over a backend built elsewhere; its erases, if any, are not timed. */
    Driver(DriverOptions options, DeviceManager devices) {
        this(options, listener -> devices);
    }

    /** @param backend builds the device layer, given the listener its erases report to */
    Driver(DriverOptions options, Function<OperationListener, DeviceManager> backend) {
        this.options = options;
        this.config = new DriverConfig(options.driverName, BuildInfo.version(), options.nodeId(), options.maxVolumesPerNode);
        this.registry = DriverMetrics.newRegistry(config.nodeId());
        this.operations = new DeviceOperationMetrics(registry);
        this.devices = new InstrumentedDeviceManager(backend.apply(operations), operations);
    }

    /** Runs until SIGTERM; returns the exit code. */
    static int run(DriverOptions options) throws Exception {
        Logging.configure(options.logFormat, options.logLevel);
        Endpoint endpoint = Endpoint.parse(options.endpoint);
        Duration drain = options.drainTimeout();
        PathSafety.requirePrivateDir(options.stateDir, "state dir");
        if (endpoint instanceof Endpoint.Unix unix) {
            PathSafety.requirePrivateDir(unix.path().getParent(), "socket dir");
        }
        Driver driver = new Driver(options, listener -> DeviceManagers.create(options, listener));
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            LOG.info("SIGTERM: draining calls for up to {} s", drain.toSeconds());
            driver.stop(drain);
            stopped.countDown();
        }, "shutdown"));
        try {
            driver.start(endpoint);
        } catch (DeviceException | IOException e) {
            LOG.error("cannot start: {}", e.getMessage());
            driver.stop(Duration.ZERO);
            return 1;
        }
        stopped.await();
        return 0;
    }

    void start(Endpoint endpoint) throws IOException, DeviceException {
        long t0 = System.nanoTime();
        boolean controller = options.mode != DriverOptions.Mode.node;
        boolean nodeService = options.mode != DriverOptions.Mode.controller;
        List<BindableService> services = new ArrayList<>();
        services.add(new IdentityService(config, controller, this::isReady));
        if (nodeService) {
            node = new NodeService(config, devices, locks, options.stateDir.resolve("node"), operations);
            services.add(node);
        }
        if (controller) {
            VolumeUsage usage = node != null ? node : VolumeUsage.none();
            services.add(new ControllerService(config, devices, locks, usage));
        }
        if (!options.metricsAddress.isBlank()) {
            http = HttpEndpoints.start(options.metricsAddress, registry, new HealthChecks(this::isLive, this::isReady, devices));
            LOG.info("metrics and health on {} (port {})", options.metricsAddress, http.port());
        }
        server = CsiServer.start(endpoint, services, List.of(new RpcInterceptor(registry, config.driverName(), this::isReady)),
                options.maxConcurrentCalls);
        devices.start();
        if (node != null) {
            node.start();
        }
        DriverMetrics.register(registry, config, devices, node != null ? node : VolumeUsage.none());
        ready = true;
        LOG.info("driver {} {} ready on node {} with the {} backend after {} ms", config.driverName(), config.version(),
                config.nodeId(), devices.backendName(), (System.nanoTime() - t0) / 1_000_000);
    }

    /** The port of /metrics, /healthz and /readyz, or -1 without them. */
    int metricsPort() {
        HttpEndpoints h = http;
        return h == null ? -1 : h.port();
    }

    boolean isLive() {
        return server != null && server.isRunning();
    }

    boolean isReady() {
        return ready && devices.isReady();
    }

    synchronized void stop(Duration drain) {
        ready = false;
        if (server != null) {
            server.shutdown(drain);
            server = null;
        }
        if (http != null) {
            http.close();
            http = null;
        }
        devices.close();
        operations.close();
    }

    @Override
    public void close() {
        stop(Duration.ZERO);
    }
}
