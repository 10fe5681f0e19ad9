package dev.pmemcsi.app;

import dev.pmemcsi.device.Capacity;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.RegionCapacity;
import dev.pmemcsi.driver.DriverConfig;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import java.util.List;
import java.util.function.ToDoubleFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The driver's own series: PMEM capacity per region (named as the earlier Go driver named them,
 * so existing dashboards and alerts keep working), build info and JVM metrics.
 */
final class DriverMetrics {

    private static final Logger LOG = LoggerFactory.getLogger(DriverMetrics.class);
    /** Scrapes within this window share one capacity reading: ndctl listings are not free. */
    private static final long CAPACITY_TTL_NANOS = 2_000_000_000L;

    private final DeviceManager devices;
    private Capacity cached;
    private long cachedAt;

    private DriverMetrics(DeviceManager devices) {
        this.devices = devices;
    }

    static void register(MeterRegistry registry, DriverConfig config, DeviceManager devices) throws DeviceException {
        DriverMetrics m = new DriverMetrics(devices);
        Gauge.builder("build_info", () -> 1)
                .description("Version of the driver; the value is always 1")
                .tag("version", config.version()).tag("driver", config.driverName())
                .tag("backend", devices.backendName())
                .register(registry);
        List<RegionCapacity> regions = devices.capacity().regions();
        for (RegionCapacity r : regions) {
            m.capacityGauge(registry, config, r.region(), "pmem_amount_total", "Size of the region in bytes",
                    RegionCapacity::totalBytes);
            m.capacityGauge(registry, config, r.region(), "pmem_amount_available",
                    "Free bytes of the region, aligned down to its allocation unit", RegionCapacity::availableBytes);
            m.capacityGauge(registry, config, r.region(), "pmem_amount_max_volume_size",
                    "Largest contiguous free extent of the region in bytes", RegionCapacity::maxExtentBytes);
            m.capacityGauge(registry, config, r.region(), "pmem_amount_managed",
                    "Bytes of the region held by the driver's volumes", RegionCapacity::usedBytes);
        }
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new JvmGcMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
    }

    private void capacityGauge(MeterRegistry registry, DriverConfig config, String region, String name,
                               String help, ToDoubleFunction<RegionCapacity> value) {
        Gauge.builder(name, this, m -> m.regionValue(region, value))
                .description(help)
                .tag("node", config.nodeId())
                .tag("region", region)
                .strongReference(true)
                .register(registry);
    }

    private synchronized double regionValue(String region, ToDoubleFunction<RegionCapacity> value) {
        long now = System.nanoTime();
        if (cached == null || now - cachedAt > CAPACITY_TTL_NANOS) {
            try {
                cached = devices.capacity();
                cachedAt = now;
            } catch (DeviceException e) {
                LOG.warn("cannot read capacity for metrics: {}", e.getMessage());
                return Double.NaN;
            }
        }
        return cached.regions().stream().filter(r -> r.region().equals(region)).findFirst()
                .map(value::applyAsDouble).orElse(Double.NaN);
    }
}
