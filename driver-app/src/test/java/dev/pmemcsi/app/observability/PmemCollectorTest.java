package dev.pmemcsi.app.observability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.Capacity;
import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.InMemoryDeviceManager;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.RegionCapacity;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeRequest;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.List;
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
                "pmem-csi.dev", Map.of("version", "1.2.3", "driver", "pmem-csi.dev", "backend", backend.backendName()), MAX_AGE, clock::get));
        return r;
    }

    /** A scrape after the cached reading has expired. */
    private Scrape fresh() {
        clock.addAndGet(MAX_AGE.toNanos());
        return Scrape.parse(registry.scrape());
    }

    /**
     * The Go driver's capacity gauges: one series per node with {@code node} and {@code driver_name},
     * {@code pmem_amount_managed} the PMEM the driver manages, so that the documented available/managed
     * is a fraction and never +Inf on an empty node.
     */
    @Test
    void capacityKeepsTheGoDriversNamesAndLabelsOnePerNode() throws DeviceException {
        Scrape s = fresh();
        long whole = GIB + 512 * CapacityMath.MIB;
        for (String name : List.of("pmem_amount_total", "pmem_amount_managed", "pmem_amount_available",
                "pmem_amount_max_volume_size")) {
            assertEquals(1, s.all(name).size(), name + " is one series per node: " + s.all(name));
            assertEquals(Set.of("node", "driver_name"), s.labelNames(name), name);
        }
        assertEquals(whole, s.require("pmem_amount_total", "node", "node-a", "driver_name", "pmem-csi.dev"));
        assertEquals(whole, s.require("pmem_amount_managed"));
        assertEquals(whole, s.require("pmem_amount_available"));
        assertEquals(GIB, s.require("pmem_amount_max_volume_size"));

        PmemVolume a = devices.createVolume(new VolumeRequest("vol-m", 100 * CapacityMath.MIB, 0, VolumeMode.FSDAX, true, Map.of()));
        s = fresh();
        assertEquals(whole, s.require("pmem_amount_managed"), "managed is the PMEM under the driver, not the bytes in use");
        assertEquals(whole - a.allocatedBytes(), s.require("pmem_amount_available"));
        assertEquals(1, s.require("build_info", "version", "1.2.3", "driver", "pmem-csi.dev", "backend", "memory", "node", "node-a"));
        String text = registry.scrape();
        assertTrue(text.contains("# TYPE pmem_amount_total gauge"), text);
        assertTrue(text.contains("# TYPE build_info gauge"), text);
        String open = registry.scrape("application/openmetrics-text");
        assertTrue(open.contains("pmem_amount_total{driver_name=\"pmem-csi.dev\",node=\"node-a\"}"), open);
        assertTrue(open.contains("build_info{"), open);
        devices.deleteVolume("vol-m", false);
    }

    @Test
    void regionDetailIsInItsOwnSeries() {
        Scrape s = fresh();
        assertEquals(GIB, s.require("pmem_region_size_bytes", "node", "node-a", "region", "region0"));
        assertEquals(512 * CapacityMath.MIB, s.require("pmem_region_size_bytes", "region", "region1"));
        assertEquals(GIB, s.require("pmem_region_available_bytes", "region", "region0"));
        assertEquals(GIB, s.require("pmem_region_max_volume_size_bytes", "region", "region0"));
        assertEquals(0, s.require("pmem_region_used_bytes", "region", "region0"));
        assertEquals(Set.of("node", "region", "technology"), s.labelNames("pmem_region_size_bytes"));
        assertEquals(GIB, s.require("pmem_region_size_bytes", "region", "region0", "technology", "unknown"));
    }

    /** Each region's series carry where its memory comes from, as the backend reports it. */
    @Test
    void regionSeriesCarryTheRegionsTechnology() {
        DeviceManager mixed = (DeviceManager) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {DeviceManager.class}, (proxy, method, args) -> {
                    try {
                        Object result = method.invoke(devices, args);
                        if (method.getName().equals("capacity")) {
                            List<RegionCapacity> regions = ((Capacity) result).regions();
                            return new Capacity(List.of(regions.get(0).withTechnology("nvdimm"),
                                    regions.get(1).withTechnology("cxl")));
                        }
                        return result;
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        registry = registryOver(mixed);
        Scrape s = fresh();
        for (String name : List.of("pmem_region_size_bytes", "pmem_region_available_bytes",
                "pmem_region_max_volume_size_bytes", "pmem_region_used_bytes")) {
            assertEquals(Set.of("node", "region", "technology"), s.labelNames(name), name);
        }
        assertEquals(GIB, s.require("pmem_region_size_bytes", "region", "region0", "technology", "nvdimm"));
        assertEquals(512 * CapacityMath.MIB, s.require("pmem_region_size_bytes", "region", "region1", "technology", "cxl"));
        assertEquals(512 * CapacityMath.MIB, s.require("pmem_region_available_bytes", "technology", "cxl"));
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

        PmemVolume a = devices.createVolume(new VolumeRequest("vol-a", 100 * CapacityMath.MIB, 0, VolumeMode.FSDAX, true, Map.of()));
        PmemVolume b = devices.createVolume(new VolumeRequest("vol-b", 100 * CapacityMath.MIB, 0, VolumeMode.SECTOR, true, Map.of()));
        inUse.add("vol-a");
        devices.setBadBlocks("vol-b", 8);
        Scrape s = fresh();
        double used = s.require("pmem_region_used_bytes", "region", "region0") + s.require("pmem_region_used_bytes", "region", "region1");
        assertEquals(a.allocatedBytes() + b.allocatedBytes(), used);
        double available = s.require("pmem_region_available_bytes", "region", "region0") + s.require("pmem_region_available_bytes", "region", "region1");
        assertEquals(GIB + 512 * CapacityMath.MIB - used, available);
        assertEquals(available, s.require("pmem_amount_available"));
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
        assertEquals(before.require("pmem_amount_available"), cached.require("pmem_amount_available"));
        clock.addAndGet(1);
        Scrape after = Scrape.parse(registry.scrape());
        assertTrue(after.require("pmem_amount_available") < before.require("pmem_amount_available"));
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
        assertTrue(s.all("pmem_region_size_bytes").isEmpty());
        assertEquals(0, s.require("pmem_volumes", "mode", "fsdax", "state", "idle"));
        assertEquals(1, s.require("build_info"));
    }
}
