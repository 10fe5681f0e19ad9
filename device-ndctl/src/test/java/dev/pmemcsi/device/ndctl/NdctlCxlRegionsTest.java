package dev.pmemcsi.device.ndctl;

import static dev.pmemcsi.device.ndctl.FakeNamespaceBackend.GIB;
import static dev.pmemcsi.device.ndctl.FakeNamespaceBackend.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.RegionCapacity;
import dev.pmemcsi.device.UnmanagedExtent;
import dev.pmemcsi.device.VolumeEraser;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.ndctl.NamespaceInfo;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Direct mode on a node with NVDIMM regions (ACPI.NFIT bus) and a CXL PMEM region (a CXL nd bus of
 * its own): discovery, the technology of each region, the placement preference, and a CXL region
 * that comes back disabled after a reboot.
 */
class NdctlCxlRegionsTest {

    private final List<String> erased = new ArrayList<>();

    private NdctlDeviceManager manager(FakeNamespaceBackend backend, RegionPreference preference) {
        return new NdctlDeviceManager("pmem-csi.dev", backend, new VolumeEraser() {
            @Override
            public void erase(String id, Path dev) {
                erased.add(id + " " + dev);
            }

            @Override
            public void wipeSignatures(String id, Path dev) {
                // nothing on the fake media
            }
        }, OperationListener.NONE, preference);
    }

    /** Two 4 GiB NVDIMM regions (region0, region1) and a 2 GiB CXL region (region2). */
    private static FakeNamespaceBackend mixed() {
        return new FakeNamespaceBackend().withQemuRegions().withCxlRegion(2 * GIB);
    }

    private static VolumeRequest request(String name, long bytes) {
        return new VolumeRequest(VolumeIds.fromName(name), bytes, 0, VolumeMode.FSDAX, true, Map.of());
    }

    @Test
    void theCapacityNamesEachRegionsTechnology() throws DeviceException {
        NdctlDeviceManager dm = manager(mixed(), RegionPreference.NVDIMM);
        dm.start();
        List<RegionCapacity> regions = dm.capacity().regions();
        assertEquals(List.of("region0", "region1", "region2"), regions.stream().map(RegionCapacity::region).toList());
        assertEquals(List.of("nvdimm", "nvdimm", "cxl"), regions.stream().map(RegionCapacity::technology).toList());
        assertEquals(2 * GIB, regions.get(2).totalBytes());
        assertEquals(2 * GIB, regions.get(2).maxExtentBytes());
    }

    @Test
    void aCxlOnlyNodeCarvesVolumesOnItsCxlRegionAndFreesThemWhole() throws DeviceException {
        FakeNamespaceBackend backend = new FakeNamespaceBackend().withCxlRegion(2 * GIB);
        NdctlDeviceManager dm = manager(backend, RegionPreference.NVDIMM);
        dm.start();
        PmemVolume v = dm.createVolume(request("on-cxl", 512 * MIB));
        assertEquals("region0", v.region());
        assertTrue(v.daxCapable());
        assertEquals(List.of(v), dm.listVolumes());
        dm.deleteVolume(v.id(), true);
        assertEquals(1, erased.size());
        assertEquals(2 * GIB, dm.capacity().regions().get(0).availableBytes());
    }

    @Test
    void nvdimmPreferenceFillsNvdimmRegionsFirstEvenWhereCxlFitsBetter() throws DeviceException {
        FakeNamespaceBackend backend = mixed();
        NdctlDeviceManager dm = manager(backend, RegionPreference.NVDIMM);
        dm.start();
        // Best fit alone would take the 2 GiB CXL region. A 1 GiB fsdax volume takes 1056 MiB.
        assertEquals("region0", dm.createVolume(request("a", GIB)).region());
        assertEquals("region0", dm.createVolume(request("b", GIB)).region());
        // 3.5 GiB (3648 MiB) fits only region1.
        assertEquals("region1", dm.createVolume(request("c", 3 * GIB + 512 * MIB)).region());
        // 1984 MiB left in region0, 448 in region1: region0.
        assertEquals("region0", dm.createVolume(request("d", GIB)).region());
        assertEquals("region2", dm.createVolume(request("e", GIB)).region());
    }

    @Test
    void cxlPreferenceFillsTheCxlRegionFirst() throws DeviceException {
        NdctlDeviceManager dm = manager(mixed(), RegionPreference.CXL);
        dm.start();
        assertEquals("region2", dm.createVolume(request("a", 64 * MIB)).region());
        assertEquals("region2", dm.createVolume(request("b", GIB)).region());
        // No room left there for another GiB: back to the NVDIMMs.
        assertEquals("region0", dm.createVolume(request("c", GIB)).region());
    }

    @Test
    void noPreferenceIsBestFitOverAllRegions() throws DeviceException {
        NdctlDeviceManager dm = manager(mixed(), RegionPreference.NONE);
        dm.start();
        assertEquals("region2", dm.createVolume(request("a", GIB)).region());
        // The CXL region's remaining extent is too small for 3 GiB: the lower-named NVDIMM region.
        assertEquals("region0", dm.createVolume(request("b", 3 * GIB)).region());
    }

    @Test
    void preferencesParseAsDocumented() {
        assertEquals(RegionPreference.NVDIMM, RegionPreference.parse("nvdimm"));
        assertEquals(RegionPreference.CXL, RegionPreference.parse("CXL"));
        assertEquals(RegionPreference.NONE, RegionPreference.parse(" none "));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RegionPreference.parse("dram"));
        assertEquals("\"dram\" is not a region preference: nvdimm, cxl or none", e.getMessage());
        assertEquals("cxl", RegionTechnology.of("CXL"));
        assertEquals("nvdimm", RegionTechnology.of("ACPI.NFIT"));
        assertEquals("e820", RegionTechnology.of("e820"));
    }

    /**
     * Linux 6.1 after a reboot: the re-assembled CXL region is disabled ("invalid
     * interleave-set-cookie"). The driver starts on its other regions, reports the disabled one,
     * never touches it, and finds the volume again, data and all, once an administrator enables it.
     */
    @Test
    void aDisabledCxlRegionIsReportedAndLeftAloneAndItsVolumesComeBackWithIt() throws DeviceException {
        FakeNamespaceBackend backend = mixed();
        NdctlDeviceManager dm = manager(backend, RegionPreference.CXL);
        dm.start();
        PmemVolume v = dm.createVolume(request("survivor", GIB));
        assertEquals("region2", v.region());
        List<NamespaceInfo> before = List.copyOf(backend.region("region2").namespaces);

        backend.region("region2").enabled = false;
        NdctlDeviceManager restarted = manager(backend, RegionPreference.CXL);
        restarted.start();
        assertEquals(List.of(), restarted.listVolumes());
        List<UnmanagedExtent> unmanaged = restarted.unmanagedExtents();
        assertEquals(1, unmanaged.size());
        assertEquals("region2", unmanaged.get(0).region());
        assertEquals("region2 (ndbus2, CXL)", unmanaged.get(0).name());
        assertEquals(2 * GIB, unmanaged.get(0).sizeBytes());
        assertTrue(unmanaged.get(0).reason().startsWith("disabled region: "), unmanaged.get(0).reason());
        assertTrue(unmanaged.get(0).reason().contains("invalid interleave-set-cookie"), unmanaged.get(0).reason());
        // Neither capacity nor placement counts it.
        assertEquals(List.of("region0", "region1"), restarted.capacity().regions().stream().map(RegionCapacity::region).toList());
        assertEquals("region0", restarted.createVolume(request("elsewhere", GIB)).region());
        // A delete of the volume it cannot see changes nothing, and erases nothing.
        restarted.deleteVolume(v.id(), true);
        assertEquals(List.of(), erased);
        assertEquals(before, backend.region("region2").namespaces);

        backend.region("region2").enabled = true;
        NdctlDeviceManager enabledAgain = manager(backend, RegionPreference.CXL);
        enabledAgain.start();
        assertEquals(v, enabledAgain.getVolume(v.id()).orElseThrow());
    }

    @Test
    void aNodeWhoseOnlyRegionIsADisabledCxlRegionRefusesToStartAndSaysWhy() {
        FakeNamespaceBackend backend = new FakeNamespaceBackend().withCxlRegion(2 * GIB);
        backend.region("region0").enabled = false;
        DeviceException e = assertThrows(DeviceException.class, () -> manager(backend, RegionPreference.NVDIMM).start());
        assertTrue(e.getMessage().startsWith("no enabled, writable PMEM region"), e.getMessage());
        assertTrue(e.getMessage().contains("disabled: region0 (ndbus0, CXL), which the driver leaves alone"), e.getMessage());
        assertTrue(e.getMessage().contains("invalid interleave-set-cookie"), e.getMessage());
        assertEquals(List.of(), backend.calls.stream().filter(c -> !c.equals("regions")).toList());
    }

    /** A CXL device without an assembled region gives an nd bus but no region. */
    @Test
    void aNodeWithoutRegionsIsToldHowToAssembleACxlRegion() {
        FakeNamespaceBackend backend = new FakeNamespaceBackend();
        DeviceException e = assertThrows(DeviceException.class, () -> manager(backend, RegionPreference.NVDIMM).start());
        assertTrue(e.getMessage().contains("CXL memory needs a PMEM region assembled first (cxl create-region, docs/cxl.md)"),
                e.getMessage());
    }

    /**
     * After ndctl init-labels the region is enabled again, but without the namespace labels the
     * volume cannot be identified: it is simply not there, its space counts as free, and a delete of
     * its ID finds nothing to erase or destroy.
     */
    @Test
    void aCxlRegionThatLostItsLabelsShowsNoVolumeAndADeleteTouchesNothing() throws DeviceException {
        FakeNamespaceBackend backend = new FakeNamespaceBackend().withCxlRegion(2 * GIB);
        NdctlDeviceManager dm = manager(backend, RegionPreference.NVDIMM);
        dm.start();
        PmemVolume v = dm.createVolume(request("labels-lost", GIB));
        backend.region("region0").namespaces.clear();

        NdctlDeviceManager restarted = manager(backend, RegionPreference.NVDIMM);
        restarted.start();
        assertEquals(List.of(), restarted.listVolumes());
        assertTrue(restarted.getVolume(v.id()).isEmpty());
        restarted.deleteVolume(v.id(), true);
        assertEquals(List.of(), erased);
        assertEquals(List.of(), backend.calls.stream().filter(c -> c.startsWith("destroy")).toList());
    }
}
