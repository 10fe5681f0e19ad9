package dev.pmemcsi.e2e.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.csi.v1.NodeGrpc;
import dev.pmemcsi.csi.v1.NodePublishVolumeRequest;
import dev.pmemcsi.csi.v1.NodeStageVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnpublishVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnstageVolumeRequest;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.device.ndctl.NdctlDeviceManager;
import dev.pmemcsi.driver.DriverConfig;
import dev.pmemcsi.driver.VolumeLocks;
import dev.pmemcsi.node.NodePaths;
import dev.pmemcsi.node.NodeService;
import dev.pmemcsi.pmemnative.mount.FileAttributes;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.condition.DisabledIfSystemProperty;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Node service on real fsdax namespaces: stage and publish must give a filesystem that is
 * really mounted with DAX, and a file written through the published path must bypass the page
 * cache (STATX_ATTR_DAX), for ext4 and xfs.
 */
// Divides regions into namespaces: only the labelled VM shape can (docs/testing.md, E2E_SHAPE).
@DisabledIfSystemProperty(named = "pmemcsi.e2e.shape", matches = "labelless|e820")
class NodeDaxGuestTest {

    private static NdctlDeviceManager devices;
    private static Server server;
    private static ManagedChannel channel;
    private static NodeGrpc.NodeBlockingStub node;
    private static Path work;

    @BeforeAll
    static void start() throws Exception {
        work = Files.createTempDirectory("node-dax");
        devices = new NdctlDeviceManager("pmem-csi.dev");
        devices.start();
        DriverConfig config = new DriverConfig("pmem-csi.dev", "e2e", "e2e-guest", 0);
        // The work dir plays kubelet's root: staging below plugins/, targets below pods/.
        Files.createDirectories(work.resolve("kubelet/plugins"));
        Files.createDirectories(work.resolve("kubelet/pods"));
        NodeService service = new NodeService(config, devices, new VolumeLocks(), work.resolve("state"),
                NodePaths.confinedTo(work.resolve("kubelet"), List.of()));
        service.start();
        String name = InProcessServerBuilder.generateName();
        server = InProcessServerBuilder.forName(name).addService(service).build().start();
        channel = InProcessChannelBuilder.forName(name).build();
        node = NodeGrpc.newBlockingStub(channel);
    }

    @AfterAll
    static void stop() throws Exception {
        channel.shutdownNow();
        server.shutdownNow();
        assertTrue(devices.listVolumes().isEmpty(), "no volume left behind");
        devices.close();
    }

    @ParameterizedTest
    @ValueSource(strings = {"ext4", "xfs"})
    void publishedFilesUseDax(String fs) throws Exception {
        // 520 MiB: the least an xfs volume may have with the driver's 2 MiB stripe unit, which the
        // controller raises xfs requests to and the node checks.
        PmemVolume v = devices.createVolume(new VolumeRequest("dax-" + fs, 520L << 20, 0, VolumeMode.FSDAX, false, Map.of()));
        assertTrue(v.daxCapable());
        VolumeCapability cap = VolumeCapability.newBuilder()
                .setAccessMode(VolumeCapability.AccessMode.newBuilder()
                        .setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER))
                .setMount(VolumeCapability.MountVolume.newBuilder().setFsType(fs)).build();
        Path staging = work.resolve("kubelet/plugins/" + fs + "-staging");
        Path target = work.resolve("kubelet/pods/" + fs + "-target");
        try {
            node.nodeStageVolume(NodeStageVolumeRequest.newBuilder().setVolumeId(v.id())
                    .setStagingTargetPath(staging.toString()).setVolumeCapability(cap).build());
            node.nodePublishVolume(NodePublishVolumeRequest.newBuilder().setVolumeId(v.id())
                    .setStagingTargetPath(staging.toString()).setTargetPath(target.toString())
                    .setVolumeCapability(cap).build());

            List<String> mountLine = Files.readAllLines(Path.of("/proc/self/mounts")).stream()
                    .filter(l -> l.split(" ")[1].equals(target.toString())).toList();
            assertEquals(1, mountLine.size(), "published once: " + mountLine);
            assertTrue(mountLine.get(0).contains("dax"), "mount options name DAX: " + mountLine.get(0));

            Path file = target.resolve("data.bin");
            Files.write(file, new byte[4 << 20]);
            assertEquals(true, FileAttributes.of(file).dax().orElse(false),
                    "STATX_ATTR_DAX on a file written through the published path");
        } finally {
            node.nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder().setVolumeId(v.id())
                    .setTargetPath(target.toString()).build());
            node.nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(v.id())
                    .setStagingTargetPath(staging.toString()).build());
            devices.deleteVolume(v.id(), false);
        }
    }
}
