package dev.pmemcsi.node;

import dev.pmemcsi.csi.v1.NodeStageVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnstageVolumeRequest;
import dev.pmemcsi.csi.v1.VolumeCapability.AccessMode.Mode;
import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.InMemoryDeviceManager;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.nativeio.CommandRunner;
import dev.pmemcsi.nativeio.mount.Filesystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * NodeStageVolume (probe, mkfs, mount, DAX check, state record) against the bare {@code mkfs} and
 * {@code mount} commands on the same device. Needs root.
 *
 * <p>Usage: {@code NodeStageBenchmark [runs] [device]}. Without a device, a loop device over a
 * sparse file is used. A given device is formatted over and over: all its data is lost. Its
 * volume is reported DAX-capable when the device is {@code /dev/pmem*}.
 */
public final class NodeStageBenchmark {

    private static final CommandRunner RUN = new CommandRunner();
    private static final Duration TIMEOUT = Duration.ofMinutes(10);

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        Path dir = Files.createTempDirectory("node-bench");
        LoopDevice loop = null;
        try {
            Path device;
            if (args.length > 1) {
                device = Path.of(args[1]);
            } else {
                loop = LoopDevice.create(dir, "bench", 1100 * CapacityMath.MIB);
                device = loop.device;
            }
            boolean dax = device.getFileName().toString().startsWith("pmem");
            System.out.printf("device %s, DAX %s, %d runs each%n", device, dax ? "on" : "off", runs);
            for (String fs : List.of("ext4", "xfs")) {
                bench(dir, device, dax, fs, runs);
            }
        } finally {
            // Whatever a failed run left mounted must not outlive the benchmark.
            List<dev.pmemcsi.nativeio.mount.MountInfo> left = dev.pmemcsi.nativeio.mount.MountTable.read().under(dir);
            for (int i = left.size() - 1; i >= 0; i--) {
                new dev.pmemcsi.nativeio.mount.Mounter().unmount(Path.of(left.get(i).mountPoint()));
            }
            if (loop != null) {
                loop.close();
            }
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static void bench(Path dir, Path device, boolean dax, String fs, int runs) throws Exception {
        InMemoryDeviceManager devices = new InMemoryDeviceManager(new long[] {64 * CapacityMath.GIB});
        devices.start();
        String id = "bench-" + fs;
        devices.createVolume(new VolumeRequest(id, CapacityMath.GIB, 0, VolumeMode.FSDAX, false, Map.of()));
        devices.setDevice(id, device, dax);
        Path staging = Files.createDirectories(dir.resolve("kubelet/plugins/stage-" + fs));
        Path bare = Files.createDirectories(dir.resolve("bare-" + fs));
        List<Long> node = new ArrayList<>();
        List<Long> plain = new ArrayList<>();
        try (InProcessNode n = new InProcessNode(devices, dir.resolve("state-" + fs), dir.resolve("kubelet"))) {
            NodeStageVolumeRequest stage = NodeStageVolumeRequest.newBuilder().setVolumeId(id)
                    .setStagingTargetPath(staging.toString())
                    .setVolumeCapability(NodeServiceTest.mountCap(fs, Mode.SINGLE_NODE_WRITER)).build();
            List<String> mount = new ArrayList<>(List.of("mount", "-t", fs));
            if (dax) {
                mount.addAll(List.of("-o", "dax"));
            }
            mount.addAll(List.of(device.toString(), bare.toString()));
            for (int i = 0; i < runs + 1; i++) {
                // Alternate the order so that neither side always runs on a freshly discarded device.
                for (int side = 0; side < 2; side++) {
                    boolean nodeSide = (i + side) % 2 == 0;
                    RUN.run(List.of("wipefs", "-a", "-q", device.toString()), TIMEOUT);
                    long t0 = System.nanoTime();
                    if (nodeSide) {
                        n.stub.nodeStageVolume(stage);
                    } else {
                        RUN.run(Filesystems.mkfsArgv(fs, device), TIMEOUT);
                        RUN.run(mount, TIMEOUT);
                    }
                    long t = System.nanoTime() - t0;
                    if (nodeSide) {
                        n.stub.nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(id)
                                .setStagingTargetPath(staging.toString()).build());
                    } else {
                        RUN.run(List.of("umount", bare.toString()), TIMEOUT);
                    }
                    if (i > 0) { // the first round warms up the JVM and the page cache
                        (nodeSide ? node : plain).add(t);
                    }
                }
            }
        }
        double mNode = median(node) / 1e6;
        double mPlain = median(plain) / 1e6;
        System.out.printf("%-4s NodeStageVolume median %8.1f ms | mkfs+mount median %8.1f ms | ratio %.3f%n",
                fs, mNode, mPlain, mNode / mPlain);
    }

    private static double median(List<Long> xs) {
        List<Long> s = new ArrayList<>(xs);
        s.sort(null);
        int n = s.size();
        return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2.0;
    }
}
