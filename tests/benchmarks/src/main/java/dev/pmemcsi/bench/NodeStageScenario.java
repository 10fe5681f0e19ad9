package dev.pmemcsi.bench;

import dev.pmemcsi.csi.v1.NodeGrpc;
import dev.pmemcsi.csi.v1.NodeStageVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnstageVolumeRequest;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.device.emulated.EmulatedDeviceManager;
import dev.pmemcsi.driver.DriverConfig;
import dev.pmemcsi.driver.VolumeLocks;
import dev.pmemcsi.node.NodePaths;
import dev.pmemcsi.node.NodeService;
import dev.pmemcsi.pmemnative.mount.Filesystems;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * NodeStageVolume (probe, mkfs, mount, DAX check, state record) through the Node service in this
 * JVM, against the bare {@code mkfs} and {@code mount} commands on the same device, for ext4 and
 * xfs. Unlike the provisioning scenario there is no socket and no driver process: what remains is
 * the Node service's own work. The device is a 1 GiB volume of the emulated backend (a loop
 * device), or the one given with {@code --stage-device}: that device is formatted over and over
 * and loses all its data; it is mounted with DAX when it is a {@code /dev/pmem*} device.
 */
final class NodeStageScenario implements Scenario {

    private static final String DRIVER = "pmem-csi.dev";
    private static final long VOLUME_BYTES = CapacityMath.GIB;

    @Override
    public String name() {
        return "stage";
    }

    @Override
    public void run(Settings settings, Report report) throws Exception {
        report.section("NodeStageVolume in process against mkfs + mount, ext4 and xfs");
        int runs = settings.reps(10, 3);
        try (Workspace ws = Workspace.create("stage")) {
            Path regions = ws.resolve("emulated");
            EmulatedDeviceManager emulated = new EmulatedDeviceManager(regions, List.of(2 * CapacityMath.GIB));
            emulated.start();
            try {
                PmemVolume volume = emulated.createVolume(
                        new VolumeRequest("bench-stage", VOLUME_BYTES, 0, VolumeMode.FSDAX, false, Map.of()));
                DeviceManager devices = emulated;
                if (settings.stageDevice() != null) {
                    Path device = settings.stageDevice();
                    volume = volume.withDevice(device, device.getFileName().toString().startsWith("pmem"));
                    devices = new GivenDevice(emulated, volume);
                }
                report.line("device %s, DAX %s, %d runs each", volume.devicePath(), volume.daxCapable() ? "on" : "off", runs);
                for (String fs : List.of("ext4", "xfs")) {
                    bench(report, ws, devices, regions, volume, fs, runs, true);
                    bench(report, ws, devices, regions, volume, fs, runs, false);
                }
                emulated.deleteVolume(volume.id(), false);
            } finally {
                emulated.close();
            }
        }
    }

    /**
     * @param newVolume the device before each run is what CreateVolume hands out, its first and
     *     last MiB zeroed, so the driver knows without blkid that it holds nothing; otherwise the
     *     previous run's filesystem is only wiped ({@code wipefs -a}), which leaves the rest of its
     *     superblock, so the driver asks blkid
     */
    private static void bench(Report report, Workspace ws, DeviceManager devices, Path regions, PmemVolume volume,
                              String fs, int runs, boolean newVolume) throws Exception {
        String device = volume.devicePath().toString();
        String variant = fs + (newVolume ? "-new" : "-wiped");
        Path staging = ws.staging("stage-" + variant);
        Path bare = Files.createDirectories(ws.resolve("bare-" + variant));
        NodeService service = new NodeService(new DriverConfig(DRIVER, "bench", "bench-node", 0), devices,
                new VolumeLocks(), ws.resolve("state-" + variant), NodePaths.confinedTo(ws.kubelet(), List.of(regions)));
        service.start();
        String name = InProcessServerBuilder.generateName();
        Server server = InProcessServerBuilder.forName(name).directExecutor().addService(service).build().start();
        ManagedChannel channel = InProcessChannelBuilder.forName(name).directExecutor().build();
        List<Long> node = new ArrayList<>();
        List<Long> plain = new ArrayList<>();
        try {
            NodeGrpc.NodeBlockingStub stub = NodeGrpc.newBlockingStub(channel);
            NodeStageVolumeRequest stage = NodeStageVolumeRequest.newBuilder().setVolumeId(volume.id())
                    .setStagingTargetPath(staging.toString())
                    .setVolumeCapability(VolumeCapability.newBuilder()
                            .setMount(VolumeCapability.MountVolume.newBuilder().setFsType(fs))
                            .setAccessMode(VolumeCapability.AccessMode.newBuilder()
                                    .setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER)))
                    .build();
            NodeUnstageVolumeRequest unstage = NodeUnstageVolumeRequest.newBuilder().setVolumeId(volume.id())
                    .setStagingTargetPath(staging.toString()).build();
            List<String> mount = new ArrayList<>(List.of("mount", "-t", fs));
            if (volume.daxCapable()) {
                mount.addAll(List.of("-o", "dax"));
            }
            mount.addAll(List.of(device, bare.toString()));
            for (int i = 0; i < runs + 1; i++) {
                // Alternate the order so that neither side always runs on a freshly discarded device.
                for (int side = 0; side < 2; side++) {
                    boolean nodeSide = (i + side) % 2 == 0;
                    Commands.run(List.of("wipefs", "-a", "-q", device));
                    if (newVolume) {
                        zeroEnds(volume.devicePath());
                    }
                    long t0 = System.nanoTime();
                    if (nodeSide) {
                        stub.nodeStageVolume(stage);
                    } else {
                        Commands.run(Filesystems.mkfsArgv(fs, volume.devicePath()));
                        Commands.run(mount);
                    }
                    long t = System.nanoTime() - t0;
                    if (nodeSide) {
                        stub.nodeUnstageVolume(unstage);
                    } else {
                        Commands.run(List.of("umount", bare.toString()));
                    }
                    if (i > 0) { // the first round warms up the JVM and the page cache
                        (nodeSide ? node : plain).add(t);
                    }
                }
            }
        } finally {
            channel.shutdownNow();
            server.shutdownNow();
            server.awaitTermination(5, TimeUnit.SECONDS);
            // A failed run may have left either side mounted; the device must be free for the next one.
            ws.unmountAll();
        }
        double mNode = median(node) / 1e6;
        double mPlain = median(plain) / 1e6;
        report.line("%-4s %-24s NodeStageVolume median %8.1f ms | mkfs+mount median %8.1f ms | ratio %.3f",
                fs, newVolume ? "new volume (ends zero)" : "wiped (blkid runs)", mNode, mPlain, mNode / mPlain);
    }

    /** What the device layer does to a new volume: its first and last MiB zeroed, durably. */
    private static void zeroEnds(Path device) throws java.io.IOException, InterruptedException {
        int area = 1 << 20;
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(device,
                java.nio.file.StandardOpenOption.WRITE)) {
            long size = ch.size() > 0 ? ch.size() : Long.parseLong(Commands.run(
                    List.of("blockdev", "--getsize64", device.toString())).strip());
            for (long offset : new long[] {0, size - area}) {
                java.nio.ByteBuffer zeros = java.nio.ByteBuffer.allocate(area);
                while (zeros.hasRemaining()) {
                    ch.write(zeros, offset + zeros.position());
                }
            }
            ch.force(true);
        }
    }

    private static double median(List<Long> xs) {
        List<Long> s = new ArrayList<>(xs);
        s.sort(null);
        int n = s.size();
        return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2.0;
    }
}
