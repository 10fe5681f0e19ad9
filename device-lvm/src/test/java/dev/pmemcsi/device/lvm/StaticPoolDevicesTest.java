package dev.pmemcsi.device.lvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.PoolDevice;
import dev.pmemcsi.device.PoolDevices;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Over a sysfs and /dev laid out in a temporary directory as the kernel lays them out. */
class StaticPoolDevicesTest {

    private static final long GIB = 1024L * 1024 * 1024;

    @TempDir
    Path root;
    private Path sys;
    private Path dev;

    @BeforeEach
    void layout() throws Exception {
        sys = root.resolve("sys");
        dev = Files.createDirectories(root.resolve("dev"));
        Path bus = Files.createDirectories(sys.resolve("devices/LNXSYSTM:00/ACPI0012:00/ndbus0"));
        Files.writeString(bus.resolve("provider"), "ACPI.NFIT\n");
        Path region = Files.createDirectories(bus.resolve("region1"));
        Files.writeString(region.resolve("numa_node"), "1\n");
        block("pmem1", region.resolve("pfn1.0/block/pmem1"));
        block("pmem1p1", region.resolve("pfn1.0/block/pmem1/pmem1p1"));
        block("pmem1p2", region.resolve("pfn1.0/block/pmem1/pmem1p2"));
        block("loop7", sys.resolve("devices/virtual/block/loop7"));
        Files.createDirectories(dev.resolve("disk/by-id"));
        Files.createSymbolicLink(dev.resolve("disk/by-id/pmem-1"), dev.resolve("pmem1"));
        Files.createFile(dev.resolve("sda"));
    }

    private void block(String name, Path dir) throws Exception {
        Files.createDirectories(dir);
        Files.createDirectories(sys.resolve("class/block"));
        Files.createSymbolicLink(sys.resolve("class/block").resolve(name), dir);
        Files.createFile(dev.resolve(name));
    }

    private PoolDevices.Preparation prepare(String... paths) throws DeviceException {
        return new StaticPoolDevices(List.of(paths), 100, sys, dev, p -> 4 * GIB).prepare();
    }

    @Test
    void aNamespaceDeviceKeepsItsRegionBusNumaNodeAndTechnology() throws Exception {
        PoolDevices.Preparation p = prepare(dev.resolve("disk/by-id/pmem-1").toString(), dev.resolve("loop7").toString());
        assertEquals(List.of(
                new PoolDevice("region1", "ndbus0", 1, dev.resolve("pmem1").toString(), 4 * GIB, "nvdimm"),
                new PoolDevice("loop7", "static", -1, dev.resolve("loop7").toString(), 4 * GIB, "loop")), p.devices());
        assertEquals(List.of(), p.skipped());
    }

    @Test
    void devicesSharingARegionAreEachTheirOwn() throws Exception {
        List<PoolDevice> d = prepare(dev.resolve("pmem1p1").toString(), dev.resolve("pmem1p2").toString()).devices();
        assertEquals(List.of("pmem1p1", "pmem1p2"), d.stream().map(PoolDevice::region).toList());
        assertEquals(List.of("static", "static"), d.stream().map(PoolDevice::bus).toList());
        assertEquals(List.of(1, 1), d.stream().map(PoolDevice::numaNode).toList(), "the region's NUMA node still applies");
    }

    @Test
    void whatCannotBeAPoolDeviceIsRefusedByName() {
        DeviceException missing = assertThrows(DeviceException.class, () -> prepare(dev.resolve("pmem9").toString()));
        assertEquals("--lvm-devices names " + dev.resolve("pmem9") + ", which does not exist", missing.getMessage());
        DeviceException notBlock = assertThrows(DeviceException.class, () -> prepare(dev.resolve("sda").toString()));
        assertTrue(notBlock.getMessage().endsWith("which is not a block device"), notBlock.getMessage());
        DeviceException twice = assertThrows(DeviceException.class,
                () -> prepare(dev.resolve("pmem1").toString(), dev.resolve("disk/by-id/pmem-1").toString()));
        assertTrue(twice.getMessage().contains("twice"), twice.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new StaticPoolDevices(List.of(), 100));
        assertThrows(IllegalArgumentException.class, () -> new StaticPoolDevices(List.of("pmem0"), 100));
    }

    @Test
    void theDescriptionIsTheNamedList() {
        assertEquals("/dev/pmem0,/dev/pmem1", new StaticPoolDevices(List.of("/dev/pmem0", "/dev/pmem1"), 50).describe());
    }
}
