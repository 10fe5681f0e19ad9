package dev.pmemcsi.app.observability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.InMemoryDeviceManager;
import dev.pmemcsi.device.Volume;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeRequest;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class PmemCollectorTest {

    private static final long GIB = 1024 * CapacityMath.MIB;
    private static final Duration MAX_AGE = Duration.ofSeconds(2);

    private final InMemoryDeviceManager devices = new InMemoryDeviceManager(16 * CapacityMath.MIB, new long[] {GIB, 512 * CapacityMath.MIB});
    private final AtomicLong clock = new AtomicLong();
    private final Set<String> inUse = ConcurrentHashMap.newKeySet();
    private PrometheusMeterRegistry registry;

    @BeforeEach
    void start() {
        devices.start();
        registry = registryOver(devices);
    }

    private PrometheusMeterRegistry registryOver(DeviceManager backend) {
        PrometheusMeterRegistry r = DriverMetrics.newRegistry("node-a");
        r.getPrometheusRegistry().register(new PmemCollector(backend,
                id -> inUse.contains(id) ? Optional.of("staged at /staging/" + id) : Optional.empty(), "node-a",
                Map.of("version", "1.2.3", "driver", "pmem-csi.dev", "backend", backend.backendName()), MAX_AGE, clock::get));
        return r;
    }

    /** A scrape after the cached reading has expired. */
    private Scrape fresh() {
        clock.addAndGet(MAX_AGE.toNanos());
        return Scrape.parse(registry.scrape());
    }

    @Test
    void capacityUsesTheReferenceNamesPerRegion() {
        Scrape s = fresh();
        assertEquals(GIB, s.require("pmem_amount_total", "node", "node-a", "region", "region0"));
        assertEquals(512 * CapacityMath.MIB, s.require("pmem_amount_total", "region", "region1"));
        assertEquals(GIB, s.require("pmem_amount_available", "region", "region0"));
        assertEquals(GIB, s.require("pmem_amount_max_volume_size", "region", "region0"));
        assertEquals(0, s.require("pmem_amount_managed", "region", "region0"));
        assertEquals(Set.of("node", "region"), s.labelNames("pmem_amount_total"));
        assertEquals(1, s.require("build_info", "version", "1.2.3", "driver", "pmem-csi.dev", "backend", "memory", "node", "node-a"));
        String text = registry.scrape();
        assertTrue(text.contains("# TYPE pmem_amount_total gauge"), text);
        assertTrue(text.contains("# TYPE build_info gauge"), text);
        String open = registry.scrape("application/openmetrics-text");
        assertTrue(open.contains("pmem_amount_total{node=\"node-a\",region=\"region0\"}"), open);
        assertTrue(open.contains("build_info{"), open);
    }

    @Test
    void valuesFollowCreatesDeletesUsageAndFaults() throws DeviceException {
        Scrape empty = fresh();
        for (String mode : new String[] {"fsdax", "sector"}) {
            for (String state : PmemCollector.VOLUME_STATES) {
                assertEquals(0, empty.require("pmem_volumes", "mode", mode, "state", state), mode + " " + state);
            }
        }
        assertTrue(empty.all("pmem_volume_bad_blocks").isEmpty());

        Volume a = devices.createVolume(new VolumeRequest("vol-a", 100 * CapacityMath.MIB, 0, VolumeMode.FSDAX, true, Map.of()));
        Volume b = devices.createVolume(new VolumeRequest("vol-b", 100 * CapacityMath.MIB, 0, VolumeMode.SECTOR, true, Map.of()));
        inUse.add("vol-a");
        devices.setBadBlocks("vol-b", 8);
        Scrape s = fresh();
        double managed = s.require("pmem_amount_managed", "region", "region0") + s.require("pmem_amount_managed", "region", "region1");
        assertEquals(a.allocatedBytes() + b.allocatedBytes(), managed);
        double available = s.require("pmem_amount_available", "region", "region0") + s.require("pmem_amount_available", "region", "region1");
        assertEquals(GIB + 512 * CapacityMath.MIB - managed, available);
        assertEquals(1, s.require("pmem_volumes", "mode", "fsdax", "state", "in_use"));
        assertEquals(1, s.require("pmem_volumes", "mode", "sector", "state", "abnormal"));
        assertEquals(0, s.require("pmem_volumes", "mode", "fsdax", "state", "idle"));
        assertEquals(8, s.require("pmem_volume_bad_blocks", "volume", "vol-b", "region", b.region(), "node", "node-a"));
        assertEquals(0, s.require("pmem_volume_bad_blocks", "volume", "vol-a"));

        devices.setGone("vol-a");
        devices.deleteVolume("vol-b", false);
        s = fresh();
        assertEquals(1, s.require("pmem_volumes", "mode", "fsdax", "state", "abnormal"), "a vanished device beats in use");
        assertEquals(0, s.require("pmem_volumes", "mode", "sector", "state", "abnormal"));
        assertTrue(s.value("pmem_volume_bad_blocks", "volume", "vol-b").isEmpty(), "a deleted volume's series goes away");
        devices.deleteVolume("vol-a", false);
    }

    @Test
    void scrapesWithinTheMaximumAgeShareOneReading() throws DeviceException {
        Scrape before = fresh();
        devices.createVolume(new VolumeRequest("vol-c", 100 * CapacityMath.MIB, 0, VolumeMode.FSDAX, false, Map.of()));
        clock.addAndGet(MAX_AGE.toNanos() - 1);
        Scrape cached = Scrape.parse(registry.scrape());
        assertEquals(before.require("pmem_amount_managed", "region", "region0"), cached.require("pmem_amount_managed", "region", "region0"));
        clock.addAndGet(1);
        Scrape after = Scrape.parse(registry.scrape());
        assertTrue(after.require("pmem_amount_managed", "region", "region0") + after.require("pmem_amount_managed", "region", "region1") > 0);
        devices.deleteVolume("vol-c", false);
    }

    @Test
    void aSourceThatCannotBeReadIsReportedAndLeftOut() {
        DeviceManager failing = (DeviceManager) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {DeviceManager.class}, (proxy, method, args) -> {
                    if (method.getName().equals("capacity")) {
                        throw new DeviceException("libndctl: ndctl_new failed: ENOMEM");
                    }
                    try {
                        return method.invoke(devices, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        registry = registryOver(failing);
        Scrape s = fresh();
        assertEquals(0, s.require("pmem_device_read_ok", "source", "capacity"));
        assertEquals(1, s.require("pmem_device_read_ok", "source", "health"));
        assertEquals(1, s.require("pmem_device_read_ok", "source", "volumes"));
        assertTrue(s.all("pmem_amount_total").isEmpty());
        assertEquals(0, s.require("pmem_volumes", "mode", "fsdax", "state", "idle"));
        assertEquals(1, s.require("build_info"));
    }
}
