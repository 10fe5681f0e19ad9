package dev.pmemcsi.bench;

import dev.pmemcsi.csi.v1.CapacityRange;
import dev.pmemcsi.csi.v1.NodeExpandVolumeRequest;
import dev.pmemcsi.csi.v1.NodeGrpc;
import dev.pmemcsi.csi.v1.NodeStageVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnstageVolumeRequest;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.device.CapacityMath;
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
 * Volume expansion on the emulated backend, against its floor.
 *
 * <ul>
 *   <li>In place: a staged xfs volume grows by 256 MiB at a time, device ({@code expandVolume}) and
 *       filesystem (NodeExpandVolume in this JVM). The floor is the same growth done by hand on a
 *       loop device over a sparse file: {@code truncate}, {@code losetup -c}, {@code xfs_growfs}.</li>
 *   <li>By moving: a volume that is not staged, with another volume right after it, grows and so
 *       moves to a new extent, its data copied. The floor is {@code dd} of the same bytes between
 *       two loop devices with direct I/O, the device's copy bandwidth.</li>
 * </ul>
 * xfs, because growing a mounted ext4 needs CAP_SYS_RESOURCE, which some containers lack.
 */
final class ExpansionScenario implements Scenario {

    private static final String DRIVER = "pmem-csi.dev";
    private static final long STEP = 256 * CapacityMath.MIB;
    private static final long START = CapacityMath.GIB;
    private static final long MOVED = 512 * CapacityMath.MIB;

    @Override
    public String name() {
        return "expand";
    }

    @Override
    public void run(Settings settings, Report report) throws Exception {
        report.section("Volume expansion, emulated backend, xfs: in place and by moving, against the floor");
        int runs = settings.reps(8, 3);
        try (Workspace ws = Workspace.create("expand")) {
            Path regions = ws.resolve("emulated");
            long regionBytes = START + (runs + 2) * STEP + 4 * MOVED;
            EmulatedDeviceManager devices = new EmulatedDeviceManager(regions, List.of(regionBytes));
            devices.start();
            try {
                inPlace(report, ws, devices, regions, runs);
                byMoving(report, ws, devices, runs);
            } finally {
                ws.unmountAll();
                devices.close();
            }
        }
    }

    private static void inPlace(Report report, Workspace ws, EmulatedDeviceManager devices, Path regions, int runs)
            throws Exception {
        PmemVolume volume = devices.createVolume(new VolumeRequest("bench-grow", START, 0, VolumeMode.FSDAX, false, Map.of()));
        Path staging = ws.staging("grow");
        NodeService service = new NodeService(new DriverConfig(DRIVER, "bench", "bench-node", 0), devices,
                new VolumeLocks(), ws.resolve("state"), NodePaths.confinedTo(ws.kubelet(), List.of(regions)));
        service.start();
        String name = InProcessServerBuilder.generateName();
        Server server = InProcessServerBuilder.forName(name).directExecutor().addService(service).build().start();
        ManagedChannel channel = InProcessChannelBuilder.forName(name).directExecutor().build();
        VolumeCapability cap = VolumeCapability.newBuilder()
                .setMount(VolumeCapability.MountVolume.newBuilder().setFsType("xfs"))
                .setAccessMode(VolumeCapability.AccessMode.newBuilder()
                        .setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER))
                .build();
        List<Long> driver = new ArrayList<>();
        try {
            NodeGrpc.NodeBlockingStub node = NodeGrpc.newBlockingStub(channel);
            node.nodeStageVolume(NodeStageVolumeRequest.newBuilder().setVolumeId(volume.id())
                    .setStagingTargetPath(staging.toString()).setVolumeCapability(cap).build());
            long size = volume.capacityBytes();
            for (int i = 0; i < runs + 1; i++) {
                size += STEP;
                long t0 = System.nanoTime();
                devices.expandVolume(volume.id(), size, 0, true);
                node.nodeExpandVolume(NodeExpandVolumeRequest.newBuilder().setVolumeId(volume.id())
                        .setVolumePath(staging.toString()).setStagingTargetPath(staging.toString())
                        .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(size)).setVolumeCapability(cap)
                        .build());
                if (i > 0) { // the first round loads the classes
                    driver.add(System.nanoTime() - t0);
                }
            }
            node.nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(volume.id())
                    .setStagingTargetPath(staging.toString()).build());
        } finally {
            channel.shutdownNow();
            server.shutdownNow();
            server.awaitTermination(5, TimeUnit.SECONDS);
            ws.unmountAll();
        }
        devices.deleteVolume(volume.id(), false);
        List<Long> floor = floorInPlace(ws, runs);
        report.line("in place: expandVolume + NodeExpandVolume median %7.1f ms | truncate + losetup -c + xfs_growfs"
                + " median %7.1f ms | ratio %.2f", median(driver) / 1e6, median(floor) / 1e6,
                median(driver) / (double) median(floor));
    }

    private static List<Long> floorInPlace(Workspace ws, int runs) throws Exception {
        Path file = ws.resolve("floor.img");
        Path mnt = Files.createDirectories(ws.resolve("floor-mnt"));
        Commands.run(List.of("truncate", "-s", Long.toString(START), file.toString()));
        String loop = Commands.run(List.of("losetup", "--find", "--show", file.toString())).strip();
        List<Long> times = new ArrayList<>();
        try {
            Commands.run(Filesystems.mkfsArgv("xfs", Path.of(loop)));
            Commands.run(List.of("mount", "-t", "xfs", loop, mnt.toString()));
            for (int i = 0; i < runs + 1; i++) {
                long t0 = System.nanoTime();
                Commands.run(List.of("truncate", "-s", "+" + STEP, file.toString()));
                Commands.run(List.of("losetup", "-c", loop));
                Commands.run(List.of("xfs_growfs", mnt.toString()));
                if (i > 0) {
                    times.add(System.nanoTime() - t0);
                }
            }
        } finally {
            ws.unmountAll();
            Commands.run(List.of("losetup", "-d", loop));
        }
        return times;
    }

    private static void byMoving(Report report, Workspace ws, EmulatedDeviceManager devices, int runs) throws Exception {
        List<Long> driver = new ArrayList<>();
        List<Long> floor = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            // The blocker right after the volume makes growth in place impossible, so it moves.
            PmemVolume volume = devices.createVolume(new VolumeRequest("bench-move", MOVED, 0, VolumeMode.FSDAX, false, Map.of()));
            PmemVolume blocker = devices.createVolume(new VolumeRequest("bench-block", STEP, 0, VolumeMode.FSDAX, false, Map.of()));
            Commands.run(List.of("dd", "if=/dev/urandom", "of=" + volume.devicePath(), "bs=4M",
                    "count=" + MOVED / (4 * CapacityMath.MIB), "oflag=direct", "status=none"));
            long t0 = System.nanoTime();
            devices.expandVolume(volume.id(), MOVED + STEP, 0, false);
            driver.add(System.nanoTime() - t0);
            PmemVolume moved = devices.getVolume(volume.id()).orElseThrow();
            PmemVolume target = devices.createVolume(new VolumeRequest("bench-copy", MOVED, 0, VolumeMode.FSDAX, false, Map.of()));
            long t1 = System.nanoTime();
            Commands.run(List.of("dd", "if=" + moved.devicePath(), "of=" + target.devicePath(), "bs=4M",
                    "count=" + MOVED / (4 * CapacityMath.MIB), "iflag=direct", "oflag=direct", "status=none"));
            floor.add(System.nanoTime() - t1);
            for (String id : List.of(volume.id(), blocker.id(), target.id())) {
                devices.deleteVolume(id, false);
            }
        }
        report.line("by moving %d MiB of data: expandVolume median %7.1f ms | dd with direct I/O median %7.1f ms"
                + " | ratio %.2f", MOVED / CapacityMath.MIB, median(driver) / 1e6, median(floor) / 1e6,
                median(driver) / (double) median(floor));
    }

    private static long median(List<Long> xs) {
        List<Long> s = new ArrayList<>(xs);
        s.sort(null);
        return s.get(s.size() / 2);
    }
}
