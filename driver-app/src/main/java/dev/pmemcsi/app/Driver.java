package dev.pmemcsi.app;

import dev.pmemcsi.app.observability.DeviceOperationMetrics;
import dev.pmemcsi.app.observability.DriverMetrics;
import dev.pmemcsi.app.observability.HealthChecks;
import dev.pmemcsi.app.observability.HttpEndpoints;
import dev.pmemcsi.app.observability.Logging;
import dev.pmemcsi.app.observability.RpcInterceptor;
import dev.pmemcsi.controller.ControllerService;
import dev.pmemcsi.controller.snapshot.SnapshotConfig;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.driver.DriverConfig;
import dev.pmemcsi.driver.FilesystemFreezer;
import dev.pmemcsi.driver.VolumeLocks;
import dev.pmemcsi.driver.NodeVolumeUse;
import dev.pmemcsi.node.NodePaths;
import dev.pmemcsi.node.NodeService;
import io.grpc.BindableService;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.function.Function;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running driver: the device layer, the CSI services it serves, the gRPC server, and the HTTP
 * endpoints. Start-up order matters: the socket answers Probe (not ready) and the calls that
 * describe the driver as soon as it exists, the device layer then recovers its volumes, and only
 * then do calls on volumes go through; those that arrive earlier wait for it (see {@link RpcInterceptor}).
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
    private final RpcInterceptor interceptor;
    private volatile boolean ready;
    private NodeService node;
    private ControllerService controllerService;
    private CsiServer server;
    private volatile HttpEndpoints http;

    /** A driver over a backend built elsewhere; it reports its operations to a listener of its own, if any. */
    Driver(DriverOptions options, DeviceManager devices) {
        this(options, listener -> devices);
    }

    /** @param backend builds the device layer, given the listener its creates, deletes and erases report to */
    Driver(DriverOptions options, Function<OperationListener, DeviceManager> backend) {
        this.options = options;
        this.config = new DriverConfig(options.driverName, BuildInfo.version(), options.nodeId(), options.maxVolumesPerNode);
        this.registry = DriverMetrics.newRegistry(config.nodeId());
        this.operations = new DeviceOperationMetrics(registry);
        this.devices = backend.apply(operations);
        this.interceptor = RpcInterceptor.starting(registry, config.driverName(), this::isReady,
                RpcInterceptor.DEFAULT_STARTUP_WAIT);
    }

    /** The hook that drains on SIGTERM, while one is registered. */
    private static volatile Thread drainHook;

    /** Runs until SIGTERM; returns the exit code. */
    static int run(DriverOptions options) throws Exception {
        options.validate();
        Logging.configure(options.logFormat, options.logLevel);
        Endpoint endpoint = Endpoint.parse(options.endpoint);
        Duration drain = options.drainTimeout();
        List<Path> created = new ArrayList<>();
        boolean started = false;
        try {
            created.add(firstMissing(options.stateDir));
            PathSafety.requirePrivateDir(options.stateDir, "state dir");
            // Before anything else is touched: a second driver must not replace the first one's
            // socket, recover its backend or reconcile its node records.
            try (StateDirLock lock = StateDirLock.acquire(options.stateDir)) {
                if (endpoint instanceof Endpoint.Unix unix) {
                    created.add(firstMissing(unix.path().getParent()));
                    PathSafety.requirePrivateDir(unix.path().getParent(), "socket dir");
                }
                Driver driver = new Driver(options, listener -> DeviceManagers.create(options, listener));
                CountDownLatch stopped = new CountDownLatch(1);
                Thread hook = new Thread(() -> {
                    LOG.info("SIGTERM: draining calls for up to {} s", drain.toSeconds());
                    driver.stop(drain);
                    stopped.countDown();
                }, "shutdown");
                Runtime.getRuntime().addShutdownHook(hook);
                drainHook = hook;
                try {
                    driver.start(endpoint);
                } catch (DeviceException | IOException e) {
                    LOG.error("cannot start: {}", e.getMessage());
                    // The exit that follows is no SIGTERM and there is nothing to drain.
                    unregister(hook);
                    driver.stop(Duration.ZERO);
                    return 1;
                } catch (StartupException e) {
                    unregister(hook);
                    driver.stop(Duration.ZERO);
                    throw e;
                }
                started = true;
                stopped.await();
                return 0;
            }
        } finally {
            if (!started) {
                removeCreated(created);
            }
        }
    }

    static boolean drainsOnExit() {
        return drainHook != null;
    }

    private static void unregister(Thread hook) {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            return; // a real SIGTERM came during the start; the hook drains
        }
        drainHook = null;
    }

    private static boolean hasMountInside(Path dir) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                String[] f = line.split(" ");
                if (f.length > 4 && Path.of(f[4].replace("\\040", " ")).startsWith(dir)) {
                    return true;
                }
            }
            return false;
        } catch (IOException e) {
            return true; // cannot tell: keep it
        }
    }

    /** The outermost directory of {@code dir} that does not exist yet, or null when it exists. */
    private static Path firstMissing(Path dir) {
        Path missing = null;
        for (Path p = dir.toAbsolutePath(); p != null && !Files.exists(p, LinkOption.NOFOLLOW_LINKS); p = p.getParent()) {
            missing = p;
        }
        return missing;
    }

    /**
     * A start that failed leaves no trace: the directories it created hold nothing but what this
     * run put there (no volume was served), and they are removed; a tree with anything mounted
     * inside is left alone.
     */
    private static void removeCreated(List<Path> created) {
        for (Path top : created) {
            if (top == null || !Files.exists(top, LinkOption.NOFOLLOW_LINKS)) {
                continue;
            }
            if (hasMountInside(top)) {
                LOG.warn("not removing {}, created by the failed start: something is mounted inside", top);
                continue;
            }
            try (Stream<Path> tree = Files.walk(top)) {
                for (Path p : tree.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            } catch (IOException | UncheckedIOException e) {
                LOG.warn("cannot remove {}, created by the failed start: {}", top, e.getMessage());
            }        }
    }

    void start(Endpoint endpoint) throws IOException, DeviceException, StartupException {
        long t0 = System.nanoTime();
        boolean controller = options.mode != DriverOptions.Mode.node;
        boolean nodeService = options.mode != DriverOptions.Mode.controller;
        List<BindableService> services = new ArrayList<>();
        services.add(new IdentityService(config, controller, devices.expansion(), this::isReady));
        if (nodeService) {
            node = new NodeService(config, devices, locks, options.stateDir.resolve("node"), nodePaths(endpoint),
                    operations);
            services.add(node);
        }
        if (controller) {
            NodeVolumeUse usage = node != null ? node : NodeVolumeUse.none();
            // The node service knows where a volume is staged, so it freezes what a snapshot copies.
            FilesystemFreezer freezer = node != null ? node : FilesystemFreezer.none();
            SnapshotConfig snapshots = new SnapshotConfig(options.snapshotDir(), options.stateDir.resolve("controller"),
                    options.snapshotFreezeLimit(), freezer);
            controllerService = new ControllerService(config, devices, locks, usage, snapshots, operations);
            services.add(controllerService);
        }
        if (!options.metricsAddress.isBlank()) {
            http = HttpEndpoints.start(options.metricsAddress, registry, new HealthChecks(this::isLive, this::isReady, devices));
            LOG.info("metrics and health on {} (port {})", options.metricsAddress, http.port());
        }
        server = CsiServer.start(endpoint, services, List.of(interceptor), options.maxConcurrentCalls);
        try {
            devices.start();
            if (node != null) {
                node.start();
            }
            if (controllerService != null) {
                controllerService.start();
            }
        } catch (DeviceException | IOException | RuntimeException e) {
            interceptor.startFailed(e.getMessage());
            throw e;
        }
        DriverMetrics.register(registry, config, devices, node != null ? node : NodeVolumeUse.none());
        if (controllerService != null) {
            controllerService.snapshotStore().ifPresent(store -> DriverMetrics.registerSnapshots(registry, store));
        }
        ready = true;
        interceptor.started();
        LOG.info("driver {} {} ready on node {} with the {} backend after {} ms", config.driverName(), config.version(),
                config.nodeId(), devices.backendName(), (System.nanoTime() - t0) / 1_000_000);
    }

    /**
     * Where the node service may stage and publish: below the kubelet dir, resolved once here,
     * and never in the driver's own state, emulated-region or socket directory.
     */
    private NodePaths nodePaths(Endpoint endpoint) throws StartupException, IOException {
        List<Path> own = new ArrayList<>(List.of(options.stateDir, options.emulatedDir(), options.snapshotDir()));
        if (endpoint instanceof Endpoint.Unix unix) {
            own.add(unix.path().toAbsolutePath().getParent());
        }
        try {
            NodePaths paths = NodePaths.confinedTo(options.kubeletDir, own);
            LOG.info("staging and target paths are confined to {}/plugins/ and {}/pods/", paths.kubeletDir(),
                    paths.kubeletDir());
            return paths;
        } catch (NoSuchFileException e) {
            throw new StartupException("--kubelet-dir " + options.kubeletDir + " does not exist or is not a directory;"
                    + " it must be kubelet's root directory (its --root-dir), mounted into the driver's container");
        }
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
        // Calls still waiting for a start-up that will not end are answered now, not at the drain's end.
        interceptor.startFailed("the driver is stopping");
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
