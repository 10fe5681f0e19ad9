package dev.pmemcsi.e2e.guest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.csi.v1.NodeGrpc;
import dev.pmemcsi.csi.v1.NodePublishVolumeRequest;
import dev.pmemcsi.csi.v1.NodeStageVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnpublishVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnstageVolumeRequest;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.RegionCapacity;
import dev.pmemcsi.device.UnmanagedExtent;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.device.ndctl.LibNdctlBackend;
import dev.pmemcsi.device.ndctl.NdctlDeviceManager;
import dev.pmemcsi.driver.DriverConfig;
import dev.pmemcsi.driver.VolumeLocks;
import dev.pmemcsi.ndctl.NamespaceInfo;
import dev.pmemcsi.ndctl.RegionInfo;
import dev.pmemcsi.node.NodePaths;
import dev.pmemcsi.node.NodeService;
import dev.pmemcsi.pmemnative.mount.FileAttributes;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Direct mode on CXL persistent memory: the cxl VM shape (docs/testing.md), whose setup assembled
 * one PMEM region on an emulated CXL type-3 device with {@code cxl create-region}. The device
 * manager and the Node service run in this JVM, as the driver wires them, on that region.
 */
@EnabledIfSystemProperty(named = "pmemcsi.e2e.shape", matches = "cxl")
class CxlLifecycleGuestTest {

    private static final String DRIVER = "pmem-csi.dev";
    private static final long MIB = 1 << 20;

    private Path work;
    private NdctlDeviceManager devices;
    private Server server;
    private ManagedChannel channel;
    private NodeGrpc.NodeBlockingStub node;

    @BeforeEach
    void start() throws Exception {
        assertEquals(List.of(), allocated(), "the test needs an empty CXL region");
        work = Files.createTempDirectory("cxl-lifecycle");
        devices = new NdctlDeviceManager(DRIVER);
        devices.start();
        Files.createDirectories(work.resolve("kubelet/plugins"));
        Files.createDirectories(work.resolve("kubelet/pods"));
        NodeService service = new NodeService(new DriverConfig(DRIVER, "e2e", "e2e-guest", 0), devices,
                new VolumeLocks(), work.resolve("state"), NodePaths.confinedTo(work.resolve("kubelet"), List.of()));
        service.start();
        String name = InProcessServerBuilder.generateName();
        server = InProcessServerBuilder.forName(name).addService(service).build().start();
        channel = InProcessChannelBuilder.forName(name).build();
        node = NodeGrpc.newBlockingStub(channel);
    }

    @AfterEach
    void stop() throws Exception {
        if (channel != null) {
            channel.shutdownNow();
            server.shutdownNow();
        }
        if (devices != null) {
            devices.close();
        }
        assertEquals(List.of(), allocated(), "no namespace may be left behind");
    }

    private static List<NamespaceInfo> allocated() throws Exception {
        return new LibNdctlBackend().regions().stream().flatMap(r -> r.namespaces().stream())
                .filter(NamespaceInfo::allocated).toList();
    }

    private static RegionInfo cxlRegion() throws Exception {
        List<RegionInfo> regions = new LibNdctlBackend().regions();
        assertEquals(1, regions.size(), "the cxl shape has one region: " + regions);
        return regions.get(0);
    }

    @Test
    void theRegionIsOnACxlBusAndReportedAsCxl() throws Exception {
        RegionInfo r = cxlRegion();
        assertEquals("CXL", r.provider(), "bus provider of " + r.devname() + " on " + r.bus());
        assertTrue(r.labelled(), "the CXL region has namespace labels (the device's label storage area)");
        assertTrue(r.enabled());
        List<RegionCapacity> capacity = devices.capacity().regions();
        assertEquals(1, capacity.size());
        assertEquals("cxl", capacity.get(0).technology());
        assertEquals(r.sizeBytes(), capacity.get(0).totalBytes());
        assertEquals(List.of(), devices.unmanagedExtents());
    }

    /** Create, stage with DAX, write and read through the published path, unpublish, unstage, delete with erase. */
    @Test
    void aVolumeOnCxlGoesThroughItsWholeLifecycleWithDax() throws Exception {
        RegionCapacity before = devices.capacity().regions().get(0);
        PmemVolume v = devices.createVolume(new VolumeRequest("cxl-ext4", 520 * MIB, 0, VolumeMode.FSDAX, true, Map.of()));
        assertEquals(cxlRegion().devname(), v.region());
        assertTrue(v.daxCapable());
        assertTrue(devices.capacity().regions().get(0).availableBytes() < before.availableBytes());
        VolumeCapability cap = VolumeCapability.newBuilder()
                .setAccessMode(VolumeCapability.AccessMode.newBuilder()
                        .setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER))
                .setMount(VolumeCapability.MountVolume.newBuilder().setFsType("ext4")).build();
        Path staging = work.resolve("kubelet/plugins/cxl-staging");
        Path target = work.resolve("kubelet/pods/cxl-target");
        byte[] data = new byte[4 << 20];
        new Random(20).nextBytes(data);
        node.nodeStageVolume(NodeStageVolumeRequest.newBuilder().setVolumeId(v.id())
                .setStagingTargetPath(staging.toString()).setVolumeCapability(cap).build());
        node.nodePublishVolume(NodePublishVolumeRequest.newBuilder().setVolumeId(v.id())
                .setStagingTargetPath(staging.toString()).setTargetPath(target.toString())
                .setVolumeCapability(cap).build());
        try {
            List<String> mountLine = Files.readAllLines(Path.of("/proc/self/mounts")).stream()
                    .filter(l -> l.split(" ")[1].equals(target.toString())).toList();
            assertEquals(1, mountLine.size(), "published once: " + mountLine);
            assertTrue(mountLine.get(0).startsWith(v.devicePath() + " "), mountLine.get(0));
            assertTrue(mountLine.get(0).contains("dax"), "mount options name DAX: " + mountLine.get(0));
            Path file = target.resolve("data.bin");
            Files.write(file, data, StandardOpenOption.CREATE_NEW, StandardOpenOption.SYNC);
            assertEquals(true, FileAttributes.of(file).dax().orElse(false),
                    "STATX_ATTR_DAX on a file written through the published path");
            assertArrayEquals(data, Files.readAllBytes(file));
        } finally {
            node.nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder().setVolumeId(v.id())
                    .setTargetPath(target.toString()).build());
            node.nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(v.id())
                    .setStagingTargetPath(staging.toString()).build());
        }
        // Staged again, the data is still there: it went to the CXL device's memory.
        node.nodeStageVolume(NodeStageVolumeRequest.newBuilder().setVolumeId(v.id())
                .setStagingTargetPath(staging.toString()).setVolumeCapability(cap).build());
        try {
            assertArrayEquals(data, Files.readAllBytes(staging.resolve("data.bin")));
        } finally {
            node.nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(v.id())
                    .setStagingTargetPath(staging.toString()).build());
        }
        devices.deleteVolume(v.id(), true);
        assertTrue(devices.getVolume(v.id()).isEmpty());
        RegionCapacity after = devices.capacity().regions().get(0);
        assertEquals(before.availableBytes(), after.availableBytes(), "the capacity is whole again");
        assertEquals(before.maxExtentBytes(), after.maxExtentBytes(), "the capacity is whole again");
    }

    /**
     * What a reboot on Linux 6.1 leaves, a disabled CXL region, made here with ndctl
     * disable-region. On 6.1 ndctl enable-region does not bring a CXL region with namespaces back
     * either ("invalid interleave-set-cookie"), so it stays disabled, as after a reboot. A device
     * manager that starts then refuses, names the region and changes nothing; after the
     * administrator's ndctl init-labels the region is enabled and empty: the volume cannot be
     * identified any more, a delete of it touches nothing, and its data is still on the media,
     * where the next namespace at the same place shows it past its wiped first MiB. Should a kernel
     * enable the region again, the volume must come back with its data instead.
     */
    @Test
    void aDisabledCxlRegionIsLeftAloneAndItsLabelsAreTheAdministratorsToReset() throws Exception {
        long sizeBefore = devices.capacity().regions().get(0).availableBytes();
        PmemVolume v = devices.createVolume(new VolumeRequest("cxl-kept", 64 * MIB, 0, VolumeMode.FSDAX, false, Map.of()));
        writeMarker(v);
        String region = v.region();
        ExternalCommand.check("ndctl", "disable-region", region);
        assertFalse(cxlRegion().enabled());
        ExternalCommand.Result enable = ExternalCommand.run("ndctl", "enable-region", region);
        String kernel = ExternalCommand.run("dmesg").stdout().lines()
                .filter(l -> l.contains("cookie") || l.contains(region)).reduce("", (a, b) -> a + "\n" + b);
        System.out.println(enable.describe() + "; kernel:" + kernel);
        if (cxlRegion().enabled()) {
            NdctlDeviceManager again = new NdctlDeviceManager(DRIVER);
            again.start();
            PmemVolume back = again.getVolume(v.id()).orElseThrow();
            assertEquals(v.devicePath(), back.devicePath());
            assertArrayEquals(MARKER, readMarker(back), "the data survived the disabled region");
            again.deleteVolume(v.id(), false);
            return;
        }
        NdctlDeviceManager restarted = new NdctlDeviceManager(DRIVER);
        DeviceException e = assertThrows(DeviceException.class, restarted::start);
        assertTrue(e.getMessage().contains("disabled: " + region + " ("), e.getMessage());
        assertTrue(e.getMessage().contains("CXL), which the driver leaves alone"), e.getMessage());
        List<UnmanagedExtent> unmanaged = restarted.unmanagedExtents();
        assertEquals(1, unmanaged.size(), unmanaged.toString());
        assertTrue(unmanaged.get(0).reason().startsWith("disabled region"), unmanaged.get(0).reason());
        assertTrue(restarted.getVolume(v.id()).isEmpty());
        restarted.deleteVolume(v.id(), true);
        assertFalse(cxlRegion().enabled(), "the driver never enables the region");

        // The administrator's way back (docs/cxl.md): new, empty labels.
        ExternalCommand.check("ndctl", "init-labels", "-f", "all");
        ExternalCommand.check("ndctl", "enable-region", region);
        assertTrue(cxlRegion().enabled());
        NdctlDeviceManager relabelled = new NdctlDeviceManager(DRIVER);
        relabelled.start();
        assertEquals(List.of(), relabelled.listVolumes());
        assertEquals(List.of(), relabelled.unmanagedExtents());
        relabelled.deleteVolume(v.id(), true);
        assertEquals(sizeBefore, relabelled.capacity().regions().get(0).availableBytes(), "all of it counts as free");
        PmemVolume next = relabelled.createVolume(
                new VolumeRequest("cxl-next", 64 * MIB, 0, VolumeMode.FSDAX, true, Map.of()));
        assertArrayEquals(MARKER, readMarker(next), "the old volume's data is still on the media");
        relabelled.deleteVolume(next.id(), true);
    }

    /** Past the first MiB, which every new volume has wiped. */
    private static final long DEEP = 8 * MIB;
    private static final byte[] MARKER = "kept on CXL".repeat(100).getBytes(StandardCharsets.US_ASCII);

    private static void writeMarker(PmemVolume v) throws Exception {
        try (FileChannel ch = FileChannel.open(v.devicePath(), StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(MARKER), DEEP);
            ch.force(true);
        }
    }

    private static byte[] readMarker(PmemVolume v) throws Exception {
        byte[] read = new byte[MARKER.length];
        try (FileChannel ch = FileChannel.open(v.devicePath(), StandardOpenOption.READ)) {
            ch.read(ByteBuffer.wrap(read), DEEP);
        }
        return read;
    }
}
