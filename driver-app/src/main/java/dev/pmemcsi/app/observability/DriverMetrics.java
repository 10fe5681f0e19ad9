package dev.pmemcsi.app.observability;


import dev.pmemcsi.controller.snapshot.SnapshotStore;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.driver.DriverConfig;
import dev.pmemcsi.driver.NodeVolumeUse;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The driver's series beyond the RPC and device-operation timers: PMEM capacity and health
 * ({@link PmemCollector}), build info, and JVM metrics. docs/metrics.md lists them all.
 */
public final class DriverMetrics {

    /** Scrapes within this window share one reading of the backend. */
    static final Duration READING_MAX_AGE = Duration.ofSeconds(2);

    private DriverMetrics() {}

    /** A registry whose every meter carries {@code node}, so dashboards filter all series alike. */
    public static PrometheusMeterRegistry newRegistry(String node) {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        registry.config().commonTags("node", node);
        return registry;
    }

    /** The snapshots this node holds and the disk space their images take; call once the store has started. */
    public static void registerSnapshots(MeterRegistry registry, SnapshotStore store) {
        Gauge.builder("pmem_snapshots", store, SnapshotStore::count)
                .description("Snapshots held in this node's snapshot directory")
                .register(registry);
        Gauge.builder("pmem_snapshot_stored_bytes", store, SnapshotStore::storedBytes)
                .description("Disk space the snapshot images take (allocated blocks; zero blocks are holes)")
                .baseUnit("bytes")
                .register(registry);
    }

    /** Registers the PMEM and JVM series; call once the backend has started. */
    public static void register(PrometheusMeterRegistry registry, DriverConfig config, DeviceManager devices,
                                NodeVolumeUse usage) {
        Map<String, String> build = new LinkedHashMap<>();
        build.put("version", config.version());
        build.put("driver", config.driverName());
        build.put("backend", devices.backendName());
        registry.getPrometheusRegistry().register(
                new PmemCollector(devices, usage, config.nodeId(), config.driverName(), build, READING_MAX_AGE));
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new JvmGcMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
    }
}
