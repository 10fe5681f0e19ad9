package dev.pmemcsi.bench.guest;

import dev.pmemcsi.csi.v1.NodeGrpc;
import dev.pmemcsi.csi.v1.NodeStageVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnstageVolumeRequest;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.device.ndctl.NdctlDeviceManager;
import dev.pmemcsi.driver.DriverConfig;
import dev.pmemcsi.driver.VolumeLocks;
import dev.pmemcsi.node.NodePaths;
import dev.pmemcsi.node.NodeService;
import dev.pmemcsi.pmemnative.BlockDevice;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * NodeStageVolume on a real fsdax namespace against the bare commands a human would type: mkfs and
 * {@code mount -o dax}. Both sides get the same device before every run, in one of two states (a
 * new volume's zeroed ends, or {@code wipefs -a}), and take turns going first. Prints {@code BENCH}
 * lines with median, p10 and p90 of each side and the ratio of the medians (stage time / bare
 * time), and how much of the stage was the service's own mkfs and mount(2); asserts nothing. It stops, without figures, when a side
 * did not really mount with DAX: those figures would not measure what they claim. Needs real
 * NVDIMMs: it runs in the QEMU guest's {@code guest-benchmarks} step ({@code E2E_BENCHMARKS=1}).
 *
 * <p>Usage: {@code NodeStageGuestBenchmark [rounds]} (default 10, after one unmeasured warm-up round).
 */
public final class NodeStageGuestBenchmark {

    private static final String PROGRAM = "NodeStageGuestBenchmark";
    private static final long MIB = 1024 * 1024;
    /** mkfs.xfs with a 2 MiB stripe unit needs a log that only fits from about 520 MiB on. */
    private static final long DEVICE_BYTES = 520 * MIB;
    /** One unmeasured round first: class loading and JIT would otherwise count against the stage side. */
    private static final int WARM_UP = 1;
    private static final String DRIVER = "pmem-csi.dev";

    private NodeStageGuestBenchmark() {}

    public static void main(String[] args) throws Exception {
        int rounds = Guest.runs(PROGRAM, args, 10);
        NdctlDeviceManager devices = Guest.devices(PROGRAM, DRIVER);
        Path work = Files.createTempDirectory("node-stage-bench");
        // The work dir plays kubelet's root: staging paths below plugins/.
        Files.createDirectories(work.resolve("kubelet/plugins"));
        NodeService service = new NodeService(new DriverConfig(DRIVER, "bench", "bench-guest", 0), devices,
                new VolumeLocks(), work.resolve("state"), NodePaths.confinedTo(work.resolve("kubelet"), List.of()),
                STEPS);
        service.start();
        String name = InProcessServerBuilder.generateName();
        Server server = InProcessServerBuilder.forName(name).addService(service).build().start();
        ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
        NodeGrpc.NodeBlockingStub node = NodeGrpc.newBlockingStub(channel);
        PmemVolume volume = null;
        try {
            volume = devices.createVolume(new VolumeRequest("bench-stage", DEVICE_BYTES, 0, VolumeMode.FSDAX, false, Map.of()));
            if (!volume.daxCapable() || volume.usableBytes() < DEVICE_BYTES) {
                throw new IllegalStateException("wanted a DAX-capable fsdax volume of at least " + DEVICE_BYTES
                        + " bytes, got " + volume);
            }
            System.out.printf("BENCH stage %s (%d MiB fsdax), %d rounds each after %d warm-up%n",
                    volume.devicePath(), volume.usableBytes() / MIB, rounds, WARM_UP);
            for (String fs : List.of("ext4", "xfs")) {
                for (boolean wiped : List.of(false, true)) {
                    bench(node, volume, fs, wiped, work, rounds);
                }
            }
        } finally {
            try {
                for (String fs : List.of("ext4", "xfs")) {
                    if (volume != null) {
                        // Idempotent: a run that failed half way may have left the volume staged.
                        node.nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(volume.id())
                                .setStagingTargetPath(work.resolve("kubelet/plugins/" + fs + "-staging").toString()).build());
                    }
                    Path bare = work.resolve(fs + "-bare");
                    if (mountLine(bare) != null) {
                        Guest.run("umount", bare.toString());
                    }
                }
                if (volume != null) {
                    devices.deleteVolume(volume.id(), false);
                }
            } finally {
                channel.shutdownNow();
                server.shutdownNow();
                devices.close();
                try (Stream<Path> s = Files.walk(work)) {
                    for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                        Files.delete(p);
                    }
                }
            }
        }
    }

    /** The Node service's own mkfs and mount(2) times, of the measured stages only. */
    private static final Map<OperationListener.Kind, List<Long>> STEP_TIMES = new java.util.concurrent.ConcurrentHashMap<>();
    private static volatile boolean recordSteps;
    private static final OperationListener STEPS = (kind, subject) -> {
        long t0 = System.nanoTime();
        return failure -> {
            if (recordSteps && failure == null) {
                STEP_TIMES.computeIfAbsent(kind, k -> java.util.Collections.synchronizedList(new ArrayList<>()))
                        .add(System.nanoTime() - t0);
            }
        };
    };

    /**
     * One filesystem on one device state: a new volume (first and last MiB zeroed, as CreateVolume
     * leaves it, so the driver knows it is empty without blkid), or a wiped one ({@code wipefs -a}
     * removes only the magic numbers, so the driver asks blkid before it formats).
     */
    private static void bench(NodeGrpc.NodeBlockingStub node, PmemVolume volume, String fs, boolean wiped, Path work,
                              int rounds) throws IOException, InterruptedException {
        String device = volume.devicePath().toString();
        Path staging = work.resolve("kubelet/plugins/" + fs + "-staging");
        Path bare = Files.createDirectories(work.resolve(fs + "-bare"));
        NodeStageVolumeRequest stage = NodeStageVolumeRequest.newBuilder().setVolumeId(volume.id())
                .setStagingTargetPath(staging.toString())
                .setVolumeCapability(VolumeCapability.newBuilder()
                        .setAccessMode(VolumeCapability.AccessMode.newBuilder()
                                .setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER))
                        .setMount(VolumeCapability.MountVolume.newBuilder().setFsType(fs)))
                .build();
        NodeUnstageVolumeRequest unstage = NodeUnstageVolumeRequest.newBuilder().setVolumeId(volume.id())
                .setStagingTargetPath(staging.toString()).build();
        String[] mkfs = fs.equals("ext4")
                ? new String[] {"mkfs.ext4", "-q", "-F", "-b", "4096", "-E", "stride=512,stripe_width=512", device}
                : new String[] {"mkfs.xfs", "-q", "-f", "-b", "size=4096", "-m", "reflink=0", "-d", "su=2m,sw=1", device};
        String[] mount = {"mount", "-t", fs, "-o", "dax", device, bare.toString()};

        List<Long> stageTimes = new ArrayList<>();
        List<Long> bareTimes = new ArrayList<>();
        List<Long> unstageTimes = new ArrayList<>();
        List<Long> umountTimes = new ArrayList<>();
        for (int round = 0; round < WARM_UP + rounds; round++) {
            boolean measured = round >= WARM_UP;
            for (int turn = 0; turn < 2; turn++) {
                // Alternate who goes first, so that neither side always follows the other's unmount.
                boolean stageSide = (round + turn) % 2 == 0;
                // NodeStageVolume formats only an empty device; the bare side gets the same start.
                if (wiped) {
                    Guest.run("wipefs", "-a", "-q", device);
                } else {
                    zeroEnds(volume);
                }
                if (stageSide) {
                    recordSteps = measured;
                    long t0 = System.nanoTime();
                    node.nodeStageVolume(stage);
                    long t1 = System.nanoTime();
                    recordSteps = false;
                    if (round == 0) {
                        requireDax(staging, "NodeStageVolume");
                    }
                    long t2 = System.nanoTime();
                    node.nodeUnstageVolume(unstage);
                    long t3 = System.nanoTime();
                    if (measured) {
                        stageTimes.add(t1 - t0);
                        unstageTimes.add(t3 - t2);
                    }
                } else {
                    long t0 = System.nanoTime();
                    Guest.run(mkfs);
                    Guest.run(mount);
                    long t1 = System.nanoTime();
                    if (round == 0) {
                        requireDax(bare, "mount -o dax");
                    }
                    long t2 = System.nanoTime();
                    Guest.run("umount", bare.toString());
                    long t3 = System.nanoTime();
                    if (measured) {
                        bareTimes.add(t1 - t0);
                        umountTimes.add(t3 - t2);
                    }
                }
            }
        }
        String state = wiped ? "wiped (blkid runs)" : "new volume (ends zero)";
        System.out.printf("BENCH stage %-4s %-22s NodeStageVolume   %s | mkfs+mount %s | ratio %.2f%n",
                fs, state, spread(stageTimes), spread(bareTimes),
                Guest.percentile(stageTimes, 50) / Guest.percentile(bareTimes, 50));
        List<Long> mkfsTimes = STEP_TIMES.getOrDefault(OperationListener.Kind.MKFS, List.of());
        List<Long> mountTimes = STEP_TIMES.getOrDefault(OperationListener.Kind.MOUNT, List.of());
        if (!mkfsTimes.isEmpty() && !mountTimes.isEmpty()) {
            System.out.printf("BENCH stage %-4s %-22s of which the service's mkfs median %.1f ms, mount(2) median %.1f ms,"
                    + " the rest (checks, probe, records) median %.1f ms%n", fs, state, Guest.percentile(mkfsTimes, 50),
                    Guest.percentile(mountTimes, 50), Guest.percentile(stageTimes, 50) - Guest.percentile(mkfsTimes, 50)
                            - Guest.percentile(mountTimes, 50));
        }
        STEP_TIMES.clear();
        System.out.printf("BENCH stage %-4s %-22s NodeUnstageVolume %s | umount     %s | ratio %.2f%n",
                fs, state, spread(unstageTimes), spread(umountTimes),
                Guest.percentile(unstageTimes, 50) / Guest.percentile(umountTimes, 50));
    }

    /** The first and last MiB zeroed, as a new volume's are. */
    private static void zeroEnds(PmemVolume volume) throws IOException {
        try (BlockDevice dev = BlockDevice.open(volume.devicePath(), true)) {
            dev.zeroOut(0, MIB);
            dev.zeroOut(dev.sizeBytes() - MIB, MIB);
            dev.fsync();
        } catch (dev.pmemcsi.pmemnative.NativeException e) {
            throw new IOException("zeroing the ends of " + volume.devicePath() + ": " + e.getMessage(), e);
        }
    }

    private static void requireDax(Path dir, String who) throws IOException {
        String line = mountLine(dir);
        // ext4 and xfs spell it "dax" or "dax=always", depending on the kernel.
        boolean dax = line != null
                && Stream.of(line.split(" ")[3].split(",")).anyMatch(o -> o.equals("dax") || o.equals("dax=always"));
        if (!dax) {
            throw new IllegalStateException(who + " did not mount " + dir + " with DAX (" + line + "): no DAX figures to take");
        }
    }

    private static String mountLine(Path dir) throws IOException {
        return Files.readAllLines(Path.of("/proc/self/mounts")).stream()
                .filter(l -> l.split(" ")[1].equals(dir.toString())).reduce((a, b) -> b).orElse(null);
    }

    private static String spread(List<Long> nanos) {
        return String.format("median %7.1f ms (p10 %7.1f, p90 %7.1f)",
                Guest.percentile(nanos, 50), Guest.percentile(nanos, 10), Guest.percentile(nanos, 90));
    }
}
