package dev.pmemcsi.app.observability;

import dev.pmemcsi.device.Capacity;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceHealth;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.RegionCapacity;
import dev.pmemcsi.device.VolumeHealth;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeNotFoundException;
import dev.pmemcsi.driver.NodeVolumeUse;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot.GaugeDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.InfoSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.LongSupplier;
import java.util.function.ToLongFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The PMEM series: capacity per node and per region, volumes by mode and state, bad blocks per region and per
 * volume, DIMM health, and {@code build_info}.
 *
 * <p>They are collected straight into the Prometheus registry rather than through micrometer
 * gauges for two reasons. Micrometer's Prometheus naming strips {@code _total} and
 * {@code _info} from gauge names, which would turn the established {@code pmem_amount_total} and
 * {@code build_info} into {@code pmem_amount} and {@code build}. And regions, DIMMs and volumes
 * come and go, which a collector answers per scrape while registered gauges would linger.
 *
 * <p>One reading of the backend serves all series of a scrape, and scrapes within
 * {@code maxAge} share it: on real PMEM each reading walks libndctl's objects.
 */
public final class PmemCollector implements MultiCollector {

    /** Volume states, in the order a volume's state is decided. */
    public static final List<String> VOLUME_STATES = List.of("abnormal", "in_use", "idle");
    public static final List<String> DIMM_STATES = List.of("ok", "non-critical", "critical", "fatal", "unknown");

    private static final Logger LOG = LoggerFactory.getLogger(PmemCollector.class);

    private final DeviceManager devices;
    private final NodeVolumeUse usage;
    private final String node;
    private final String driverName;
    private final Map<String, String> build;
    private final long maxAgeNanos;
    private final LongSupplier clock;
    private Reading cached;

    /**
     * @param usage  where volumes are staged or published on this node
     * @param build  the labels of {@code build_info}
     * @param maxAge how long one reading of the backend serves scrapes
     */
    public PmemCollector(DeviceManager devices, NodeVolumeUse usage, String node, String driverName, Map<String, String> build,
                         Duration maxAge) {
        this(devices, usage, node, driverName, build, maxAge, System::nanoTime);
    }

    PmemCollector(DeviceManager devices, NodeVolumeUse usage, String node, String driverName, Map<String, String> build,
                  Duration maxAge, LongSupplier clock) {
        this.devices = devices;
        this.usage = usage;
        this.node = node;
        this.driverName = driverName;
        this.build = Map.copyOf(build);
        this.maxAgeNanos = maxAge.toNanos();
        this.clock = clock;
    }

    private record VolumeReading(PmemVolume volume, VolumeHealth health) {}

    /** What one pass over the backend found; a part that could not be read is empty. */
    private record Reading(long at, Optional<Capacity> capacity, Optional<DeviceHealth> health,
                           Optional<List<VolumeReading>> volumes) {}

    @Override
    public MetricSnapshots collect() {
        Reading r = reading();
        List<MetricSnapshot> out = new ArrayList<>();
        out.add(buildInfo());
        out.add(gauge("pmem_device_read_ok",
                "1 when the last reading of this source (capacity, health, volumes) from the backend succeeded, else 0",
                List.of(point(1, r.capacity().isPresent(), "source", "capacity"),
                        point(1, r.health().isPresent(), "source", "health"),
                        point(1, r.volumes().isPresent(), "source", "volumes"))));
        r.capacity().ifPresent(c -> {
            // The Go driver's four gauges: one series per node, labelled node and driver_name, so
            // that its dashboards and queries such as available / managed keep working. Every region
            // the backend reports is one it carves volumes from, so managed and total agree.
            out.add(nodeGauge("pmem_amount_total", "Total amount of PMEM on the node in bytes", c.totalBytes()));
            out.add(nodeGauge("pmem_amount_managed", "Amount of PMEM on the node that the driver manages, in bytes",
                    c.totalBytes()));
            out.add(nodeGauge("pmem_amount_available", "Remaining amount of PMEM on the node that new volumes can use,"
                    + " in bytes, each region aligned down to its allocation unit", c.availableBytes()));
            out.add(nodeGauge("pmem_amount_max_volume_size", "The size of the largest PMEM volume that can be created,"
                    + " in bytes of media", c.maxVolumeBytes()));
            out.add(capacity(c, "pmem_region_size_bytes", "Size of the PMEM region in bytes", RegionCapacity::totalBytes));
            out.add(capacity(c, "pmem_region_available_bytes",
                    "Free bytes of the PMEM region, aligned down to its allocation unit", RegionCapacity::availableBytes));
            out.add(capacity(c, "pmem_region_max_volume_size_bytes",
                    "Largest contiguous free extent of the PMEM region in bytes: the largest volume it can still hold",
                    RegionCapacity::maxExtentBytes));
            out.add(capacity(c, "pmem_region_used_bytes", "Bytes of the PMEM region held by the driver's volumes",
                    RegionCapacity::usedBytes));
        });
        r.volumes().ifPresent(vs -> {
            out.add(volumeCounts(vs));
            List<GaugeDataPointSnapshot> bad = new ArrayList<>();
            for (VolumeReading v : vs) {
                if (v.health() != null) {
                    bad.add(point(v.health().badBlocks(), "volume", v.volume().id(), "region", v.volume().region()));
                }
            }
            out.add(gauge("pmem_volume_bad_blocks", "Known bad 512-byte blocks inside the volume", bad));
        });
        r.health().ifPresent(h -> {
            List<GaugeDataPointSnapshot> regions = new ArrayList<>();
            new TreeMap<>(h.regionBadBlocks()).forEach((region, n) -> regions.add(point(n, "region", region)));
            out.add(gauge("pmem_region_bad_blocks", "Known bad 512-byte blocks in the PMEM region", regions));
            out.addAll(dimms(h.dimms()));
        });
        // A family without samples (no DIMMs, no volumes) is left out rather than announced empty.
        out.removeIf(m -> m.getDataPoints().isEmpty());
        return new MetricSnapshots(out);
    }

    private synchronized Reading reading() {
        long now = clock.getAsLong();
        if (cached != null && now - cached.at() < maxAgeNanos) {
            return cached;
        }
        Optional<Capacity> capacity = Optional.empty();
        Optional<DeviceHealth> health = Optional.empty();
        Optional<List<VolumeReading>> volumes = Optional.empty();
        try {
            capacity = Optional.of(devices.capacity());
        } catch (DeviceException | RuntimeException e) {
            LOG.warn("cannot read capacity for metrics: {}", e.getMessage());
        }
        try {
            health = Optional.of(devices.deviceHealth());
        } catch (DeviceException | RuntimeException e) {
            LOG.warn("cannot read PMEM health for metrics: {}", e.getMessage());
        }
        try {
            volumes = Optional.of(readVolumes());
        } catch (DeviceException | RuntimeException e) {
            LOG.warn("cannot list volumes for metrics: {}", e.getMessage());
        }
        cached = new Reading(now, capacity, health, volumes);
        return cached;
    }

    private List<VolumeReading> readVolumes() throws DeviceException {
        List<VolumeReading> result = new ArrayList<>();
        for (PmemVolume v : devices.listVolumes()) {
            VolumeHealth h;
            try {
                h = devices.volumeHealth(v.id());
            } catch (VolumeNotFoundException gone) {
                continue; // deleted since it was listed
            } catch (DeviceException e) {
                LOG.warn("cannot read the health of volume {} for metrics: {}", v.id(), e.getMessage());
                h = null;
            }
            result.add(new VolumeReading(v, h));
        }
        return result;
    }

    private InfoSnapshot buildInfo() {
        // The Prometheus client appends _info to an info metric's name.
        return InfoSnapshot.builder().name("build")
                .help("The driver's version, name and device backend; the value is always 1")
                .dataPoint(InfoSnapshot.InfoDataPointSnapshot.builder()
                        .labels(Labels.of(new ArrayList<>(build.keySet()), new ArrayList<>(build.values())).add("node", node))
                        .build())
                .build();
    }

    private GaugeSnapshot nodeGauge(String name, String help, long value) {
        return gauge(name, help, List.of(point(value, "driver_name", driverName)));
    }

    private GaugeSnapshot capacity(Capacity c, String name, String help, ToLongFunction<RegionCapacity> value) {
        List<GaugeDataPointSnapshot> points = new ArrayList<>();
        for (RegionCapacity r : c.regions()) {
            points.add(point(value.applyAsLong(r), "region", r.region(), "technology", r.technology()));
        }
        return gauge(name, help, points);
    }

    private GaugeSnapshot volumeCounts(List<VolumeReading> vs) {
        Map<String, Long> counts = new TreeMap<>();
        for (VolumeMode mode : VolumeMode.values()) {
            for (String state : VOLUME_STATES) {
                counts.put(modeLabel(mode) + "/" + state, 0L);
            }
        }
        for (VolumeReading v : vs) {
            String state = v.health() == null || v.health().abnormal() ? "abnormal"
                    : usage.usage(v.volume().id()).isPresent() ? "in_use" : "idle";
            counts.merge(modeLabel(v.volume().mode()) + "/" + state, 1L, Long::sum);
        }
        List<GaugeDataPointSnapshot> points = new ArrayList<>();
        counts.forEach((key, n) -> {
            String[] modeState = key.split("/", 2);
            points.add(point(n, "mode", modeState[0], "state", modeState[1]));
        });
        return gauge("pmem_volumes",
                "Volumes by mode (fsdax, sector) and state: abnormal (bad blocks, device gone, unreadable health), "
                        + "in_use (staged or published on this node) or idle", points);
    }

    private List<MetricSnapshot> dimms(List<DeviceHealth.DimmHealth> dimms) {
        List<GaugeDataPointSnapshot> state = new ArrayList<>();
        List<GaugeDataPointSnapshot> spares = new ArrayList<>();
        List<GaugeDataPointSnapshot> temperature = new ArrayList<>();
        List<GaugeDataPointSnapshot> lifeUsed = new ArrayList<>();
        for (DeviceHealth.DimmHealth d : dimms) {
            String current = DIMM_STATES.contains(d.healthState()) ? d.healthState() : "unknown";
            for (String s : DIMM_STATES) {
                state.add(point(1, s.equals(current), "dimm", d.dimm(), "state", s));
            }
            if (d.sparesPercent() >= 0) {
                spares.add(point(d.sparesPercent(), "dimm", d.dimm()));
            }
            if (!Double.isNaN(d.temperatureCelsius())) {
                temperature.add(point(d.temperatureCelsius(), "dimm", d.dimm()));
            }
            if (d.lifeUsedPercent() >= 0) {
                lifeUsed.add(point(d.lifeUsedPercent(), "dimm", d.dimm()));
            }
        }
        List<MetricSnapshot> out = new ArrayList<>();
        out.add(gauge("pmem_dimm_health", "1 for the DIMM's current health state (ok, non-critical, critical, fatal, "
                + "unknown when the module reports none), 0 for the others", state));
        out.add(gauge("pmem_dimm_spares_percent", "Remaining spare blocks of the DIMM in percent", spares));
        out.add(gauge("pmem_dimm_temperature_celsius", "Media temperature of the DIMM", temperature));
        out.add(gauge("pmem_dimm_life_used_percent", "Wear of the DIMM in percent of its rated life", lifeUsed));
        return out;
    }

    private static String modeLabel(VolumeMode mode) {
        return mode.name().toLowerCase(Locale.ROOT);
    }

    private GaugeDataPointSnapshot point(double value, String... labels) {
        String[] withNode = new String[labels.length + 2];
        withNode[0] = "node";
        withNode[1] = node;
        System.arraycopy(labels, 0, withNode, 2, labels.length);
        return GaugeDataPointSnapshot.builder().labels(Labels.of(withNode)).value(value).build();
    }

    private GaugeDataPointSnapshot point(double value, boolean condition, String... labels) {
        return point(condition ? value : 0, labels);
    }

    private static GaugeSnapshot gauge(String name, String help, List<GaugeDataPointSnapshot> points) {
        GaugeSnapshot.Builder b = GaugeSnapshot.builder().name(name).help(help);
        points.forEach(b::dataPoint);
        return b.build();
    }
}
