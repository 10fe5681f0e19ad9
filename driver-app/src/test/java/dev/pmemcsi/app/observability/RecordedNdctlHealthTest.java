package dev.pmemcsi.app.observability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.VolumeEraser;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.device.ndctl.NamespaceBackend;
import dev.pmemcsi.device.ndctl.NdctlDeviceManager;
import dev.pmemcsi.driver.NodeVolumeUse;
import dev.pmemcsi.ndctl.BadBlock;
import dev.pmemcsi.ndctl.DimmInfo;
import dev.pmemcsi.ndctl.NamespaceInfo;
import dev.pmemcsi.ndctl.NamespaceSpec;
import dev.pmemcsi.ndctl.PersistenceDomain;
import dev.pmemcsi.ndctl.RegionInfo;
import dev.pmemcsi.ndctl.SmartHealth;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

/**
 * The health series over the direct-mode backend, fed with libndctl answers as the bindings return
 * them: SMART of a healthy module, a worn one, a QEMU NVDIMM (which answers no SMART at all) and a
 * module whose platform flags a failed save; bad-block lists of two regions.
 */
class RecordedNdctlHealthTest {

    private static final long GIB = 1024 * CapacityMath.MIB;
    private static final int ALL_VALID = SmartHealth.HEALTH_VALID | SmartHealth.SPARES_VALID | SmartHealth.USED_VALID
            | SmartHealth.TEMP_VALID;

    /** libndctl's view of two regions and their DIMMs; namespaces are created and destroyed like the kernel does. */
    static final class RecordedLibndctl implements NamespaceBackend {
        private final List<DimmInfo> dimms;
        private final List<RegionInfo> regions = new ArrayList<>();

        RecordedLibndctl(List<DimmInfo> dimms, Map<String, List<BadBlock>> badBlocks) {
            this.dimms = dimms;
            long resource = 0x2_0000_0000L;
            for (String name : List.of("region0", "region1")) {
                regions.add(region(name, 4 * GIB, resource, badBlocks.getOrDefault(name, List.of()), List.of()));
                resource += 4 * GIB;
            }
        }

        private static RegionInfo region(String name, long size, long resource, List<BadBlock> bad, List<NamespaceInfo> ns) {
            long used = ns.stream().mapToLong(NamespaceInfo::sizeBytes).sum();
            return new RegionInfo("ndbus0", name, "pmem", size, size - used, size - used, 16 * CapacityMath.MIB, 1, 0,
                    PersistenceDomain.MEMORY_CONTROLLER, resource, false, true, bad, ns);
        }

        @Override
        public void load() {}

        @Override
        public List<String> buses() {
            return List.of("ndbus0");
        }

        @Override
        public synchronized List<RegionInfo> regions() {
            return List.copyOf(regions);
        }

        @Override
        public List<DimmInfo> dimms() {
            return dimms;
        }

        @Override
        public synchronized NamespaceInfo create(String region, NamespaceSpec spec, Predicate<NamespaceInfo> leftover) {
            for (int i = 0; i < regions.size(); i++) {
                RegionInfo r = regions.get(i);
                if (r.devname().equals(region)) {
                    long used = r.namespaces().stream().mapToLong(NamespaceInfo::sizeBytes).sum();
                    int n = r.namespaces().size();
                    NamespaceInfo ns = new NamespaceInfo(region, "namespace" + i + "." + n, spec.altName(), spec.uuid(),
                            spec.mode(), spec.sizeBytes(), r.resource() + used, true, false,
                            // No such device on any test host: the volume counts as abnormal, which the test expects.
                            "pmem9" + i + "." + n, "", CapacityMath.usableBytes(VolumeMode.FSDAX, spec.sizeBytes()),
                            spec.align(), List.of());
                    List<NamespaceInfo> all = new ArrayList<>(r.namespaces());
                    all.add(ns);
                    regions.set(i, region(r.devname(), r.sizeBytes(), r.resource(), r.badBlocks(), all));
                    return ns;
                }
            }
            throw new IllegalArgumentException("no region " + region);
        }

        @Override
        public synchronized List<NamespaceInfo> destroy(Predicate<NamespaceInfo> which, dev.pmemcsi.ndctl.RawEraser eraser) {
            return destroy(which); // these namespaces hold no data to erase
        }

        @Override
        public synchronized List<NamespaceInfo> destroy(Predicate<NamespaceInfo> which) {
            List<NamespaceInfo> destroyed = new ArrayList<>();
            for (int i = 0; i < regions.size(); i++) {
                RegionInfo r = regions.get(i);
                List<NamespaceInfo> keep = new ArrayList<>();
                for (NamespaceInfo ns : r.namespaces()) {
                    (ns.allocated() && which.test(ns) ? destroyed : keep).add(ns);
                }
                regions.set(i, region(r.devname(), r.sizeBytes(), r.resource(), r.badBlocks(), keep));
            }
            return destroyed;
        }
    }

    /** The recorded namespaces have no media behind them: there is nothing to zero. */
    private static final VolumeEraser NO_MEDIA = new VolumeEraser() {
        @Override
        public void erase(String volumeId, Path device) {}

        @Override
        public void wipeSignatures(String volumeId, Path device) {}
    };

    private static DimmInfo dimm(String name, SmartHealth smart, int failed) {
        return new DimmInfo("ndbus0", name, 0x1000 + name.hashCode() % 16, true, Optional.ofNullable(smart), failed);
    }

    private static Scrape scrape(NdctlDeviceManager dm) {
        PrometheusMeterRegistry registry = DriverMetrics.newRegistry("pmem-node");
        registry.getPrometheusRegistry().register(new PmemCollector(dm, NodeVolumeUse.none(), "pmem-node", "pmem-csi.dev",
                Map.of("version", "test", "driver", "pmem-csi.dev", "backend", dm.backendName()), Duration.ZERO));
        return Scrape.parse(registry.scrape());
    }

    @Test
    void smartAnswersAndBadBlocksBecomeSeries() throws DeviceException {
        RecordedLibndctl libndctl = new RecordedLibndctl(List.of(
                dimm("nmem0", new SmartHealth(ALL_VALID, 0, 31.5, 100, 3), 0),
                dimm("nmem1", new SmartHealth(ALL_VALID, SmartHealth.NON_CRITICAL, 48.0, 9, 97), 0),
                dimm("nmem2", null, 0),
                dimm("nmem3", new SmartHealth(ALL_VALID, 0, 30.0, 100, 1), DimmInfo.FAILED_SAVE)),
                // 16 sectors 1 MiB into region0, where the first volume lands; 8 in region1 outside any volume.
                Map.of("region0", List.of(new BadBlock(2048, 16)), "region1", List.of(new BadBlock(4_000_000, 8))));
        NdctlDeviceManager dm = new NdctlDeviceManager("pmem-csi.dev", libndctl, NO_MEDIA);
        dm.start();
        String id = dm.createVolume(new VolumeRequest("vol-bad", GIB, 0, VolumeMode.FSDAX, false, Map.of())).id();

        Scrape s = scrape(dm);
        assertEquals(1, s.require("pmem_dimm_health", "dimm", "nmem0", "state", "ok", "node", "pmem-node"));
        assertEquals(0, s.require("pmem_dimm_health", "dimm", "nmem0", "state", "non-critical"));
        assertEquals(1, s.require("pmem_dimm_health", "dimm", "nmem1", "state", "non-critical"));
        assertEquals(1, s.require("pmem_dimm_health", "dimm", "nmem2", "state", "unknown"));
        assertEquals(1, s.require("pmem_dimm_health", "dimm", "nmem3", "state", "critical"));
        assertEquals(1, s.all("pmem_dimm_health").stream().filter(x -> x.labels().get("dimm").equals("nmem1"))
                .mapToDouble(Scrape.Sample::value).sum(), "exactly one state per DIMM");
        assertEquals(100, s.require("pmem_dimm_spares_percent", "dimm", "nmem0"));
        assertEquals(9, s.require("pmem_dimm_spares_percent", "dimm", "nmem1"));
        assertEquals(31.5, s.require("pmem_dimm_temperature_celsius", "dimm", "nmem0"));
        assertEquals(97, s.require("pmem_dimm_life_used_percent", "dimm", "nmem1"));
        assertTrue(s.value("pmem_dimm_spares_percent", "dimm", "nmem2").isEmpty(), "no SMART, no figure");
        assertTrue(s.value("pmem_dimm_temperature_celsius", "dimm", "nmem2").isEmpty());
        assertTrue(s.value("pmem_dimm_life_used_percent", "dimm", "nmem2").isEmpty());

        assertEquals(16, s.require("pmem_region_bad_blocks", "region", "region0"));
        assertEquals(8, s.require("pmem_region_bad_blocks", "region", "region1"));
        assertEquals(16, s.require("pmem_volume_bad_blocks", "volume", id, "region", "region0"));
        assertEquals(1, s.require("pmem_volumes", "mode", "fsdax", "state", "abnormal"));
        assertEquals(1, s.require("pmem_device_read_ok", "source", "health"));
        assertEquals(1, s.require("build_info", "backend", "ndctl"));

        // Every documented DIMM series is exported here, with the documented labels.
        MetricsDoc doc = MetricsDoc.read();
        List<MetricsDoc.Series> dimmSeries = doc.matching(n -> n.startsWith("pmem_dimm_"));
        assertEquals(4, dimmSeries.size(), dimmSeries.toString());
        for (MetricsDoc.Series d : dimmSeries) {
            assertEquals(d.labels(), s.labelNames(d.name()), d.name());
        }
        dm.deleteVolume(id, false);
    }

    @Test
    void qemuNvdimmsWithoutSmartReportUnknownHealthAndNoError() throws DeviceException {
        RecordedLibndctl libndctl = new RecordedLibndctl(List.of(dimm("nmem0", null, 0), dimm("nmem1", null, 0)), Map.of());
        NdctlDeviceManager dm = new NdctlDeviceManager("pmem-csi.dev", libndctl, NO_MEDIA);
        dm.start();
        Scrape s = scrape(dm);
        assertEquals(1, s.require("pmem_dimm_health", "dimm", "nmem0", "state", "unknown"));
        assertEquals(1, s.require("pmem_dimm_health", "dimm", "nmem1", "state", "unknown"));
        assertTrue(s.all("pmem_dimm_spares_percent").isEmpty());
        assertTrue(s.all("pmem_dimm_temperature_celsius").isEmpty());
        assertTrue(s.all("pmem_dimm_life_used_percent").isEmpty());
        assertEquals(0, s.require("pmem_region_bad_blocks", "region", "region0"));
        assertEquals(1, s.require("pmem_device_read_ok", "source", "health"));
        assertNotNull(s.require("pmem_region_size_bytes", "region", "region1"));
        assertNotNull(s.require("pmem_amount_total", "driver_name", "pmem-csi.dev"));
    }
}
