package dev.pmemcsi.device.lvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.BlockDeviceEraser;
import dev.pmemcsi.device.Capacity;
import dev.pmemcsi.device.NoSpaceException;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.PoolDevice;
import dev.pmemcsi.device.PoolDevices;
import dev.pmemcsi.device.RegionCapacity;
import dev.pmemcsi.device.UnmanagedExtent;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.pmemnative.BlockDevice;
import dev.pmemcsi.pmemnative.CommandRunner;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real lvm2 on loop devices of this host, which has no device-mapper: lvm changes metadata and
 * never activates ({@link LvmConfig#activation()} false), so what is proven here is the pool set-up,
 * the tags, the reports as lvm really prints them, recovery from tags and the capacity arithmetic
 * against lvm's own figures. Activation, DAX, erasing and growing a mounted filesystem are proven
 * in the QEMU guest ({@code LvmDeviceManagerGuestTest}).
 */
class LvmMetadataIT {

    private static final long MIB = 1024 * 1024;
    private static final String DRIVER = "it.pmem-csi.dev";
    private static final CommandRunner RUN = new CommandRunner();
    private static final Duration TIMEOUT = Duration.ofMinutes(1);

    @TempDir
    Path tmp;
    private final List<String> loops = new ArrayList<>();
    private LvmConfig config;

    @BeforeEach
    void setUp() {
        config = new LvmConfig(tmp.resolve("lvm/lock"), null, tmp.resolve("lvm/pending"), Duration.ofMinutes(1), false);
    }

    @AfterEach
    void tearDown() throws Exception {
        // Only what this test made: its volume groups and physical volumes, then its loop devices.
        if (!loops.isEmpty()) {
            LvmCli cli = new LvmCli(RUN, config, loops);
            for (LvmReports.PhysicalVolume pv : cli.physicalVolumes()) {
                if (!pv.isOrphan()) {
                    lvm("vgremove", "--force", pv.vgName());
                }
            }
            for (String l : loops) {
                RUN.runAllowingFailure(List.of("lvm", "pvremove", "--config", LvmCli.configText(config, loops), "--yes", l),
                        LvmCli.ENVIRONMENT, TIMEOUT);
                RUN.run(List.of("losetup", "-d", l), TIMEOUT);
            }
        }
    }

    private String loop(String name, long bytes) throws Exception {
        Path file = tmp.resolve(name + ".img");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(bytes);
        }
        String dev = RUN.run(List.of("losetup", "--find", "--show", file.toString()), TIMEOUT).stdout().strip();
        loops.add(dev);
        return dev;
    }

    private CommandRunner.Result lvm(String command, String... args) throws Exception {
        List<String> argv = new ArrayList<>(List.of("lvm", command, "--config", LvmCli.configText(config, loops)));
        argv.addAll(List.of(args));
        CommandRunner.Result r = RUN.runAllowingFailure(argv, LvmCli.ENVIRONMENT, TIMEOUT);
        assertEquals(0, r.exitCode(), argv + ": " + r.stderr());
        return r;
    }

    private static PoolDevices pool(List<PoolDevice> devices) {
        return new PoolDevices() {
            @Override
            public String describe() {
                return devices.toString();
            }

            @Override
            public Preparation prepare() {
                return new Preparation(devices, List.of());
            }
        };
    }

    private LvmDeviceManager manager(List<PoolDevice> devices) {
        return new LvmDeviceManager(DRIVER, pool(devices), config, RUN, new BlockDeviceEraser(BlockDeviceEraser.Method.ZEROOUT),
                OperationListener.NONE, Path.of("/sys"), BlockDevice::isBusy);
    }

    private static PoolDevice device(String path, long size) {
        String name = Path.of(path).getFileName().toString();
        return new PoolDevice(name, "static", -1, path, size, "loop");
    }

    private static VolumeRequest request(String name, long bytes) {
        return new VolumeRequest(VolumeIds.fromName(name), bytes, 0, VolumeMode.FSDAX, true, Map.of("usage", "AppDirect"));
    }

    @Test
    void thePoolIsSetUpAsDocumentedAndVolumesLiveInTheTags() throws Exception {
        String a = loop("a", 256 * MIB);
        String b = loop("b", 128 * MIB);
        List<PoolDevice> devices = List.of(device(a, 256 * MIB), device(b, 128 * MIB));
        LvmDeviceManager m = manager(devices);
        m.start();

        LvmCli cli = new LvmCli(RUN, config, loops);
        List<LvmReports.PhysicalVolume> pvs = cli.physicalVolumes();
        assertEquals(2, pvs.size());
        for (LvmReports.PhysicalVolume pv : pvs) {
            assertEquals(2 * MIB, pv.peStart(), "--dataalignment 2m: " + pv);
            assertEquals(List.of(DRIVER), pv.vgTags());
            assertEquals("pmemcsi.static." + Path.of(pv.device()).getFileName(), pv.vgName());
        }
        // 256 MiB less the 2 MiB before the first extent, in whole 4 MiB extents.
        Capacity empty = m.capacity();
        RegionCapacity ra = empty.regions().stream().filter(r -> r.region().equals(Path.of(a).getFileName().toString()))
                .findFirst().orElseThrow();
        assertEquals(252 * MIB, ra.totalBytes());
        assertEquals(252 * MIB, ra.availableBytes());

        PmemVolume v1 = m.createVolume(request("pvc-1", 100 * MIB));
        PmemVolume v2 = m.createVolume(request("pvc-2", 5 * MIB));
        assertEquals(100 * MIB, v1.capacityBytes());
        assertEquals(8 * MIB, v2.capacityBytes());
        LvmReports.LogicalVolume lv1 = cli.state().volumes().stream().filter(l -> l.name().equals(
                LvmNaming.logicalVolumeName(v1.id()))).findFirst().orElseThrow();
        assertEquals(List.of(DRIVER, DRIVER + "/attr=dXNhZ2U.QXBwRGlyZWN0", DRIVER + "/erase-after", DRIVER + "/id=" + v1.id()),
                lv1.tags().stream().sorted().toList());
        assertEquals(100 * MIB, lv1.sizeBytes());

        Capacity c = m.capacity();
        for (RegionCapacity r : c.regions()) {
            assertEquals(r.totalBytes(), r.availableBytes() + r.usedBytes(), r.toString());
        }
        assertEquals(108 * MIB, c.usedBytes());
        assertEquals(c.totalBytes() - 108 * MIB, c.availableBytes());
        NoSpaceException e = assertThrows(NoSpaceException.class, () -> m.createVolume(request("pvc-3", 300 * MIB)));
        assertTrue(e.getMessage().startsWith("no volume group has room"), e.getMessage());

        // Growth is lvextend, in place. Best fit put both volumes on the smaller device, which
        // has 16 MiB left.
        assertEquals(v1.region(), v2.region());
        PmemVolume grown = m.expandVolume(v2.id(), 22 * MIB, 0, true);
        assertEquals(24 * MIB, grown.capacityBytes());
        assertThrows(NoSpaceException.class, () -> m.expandVolume(v2.id(), 40 * MIB, 0, true));

        // A new driver process finds everything from lvm alone, and changes nothing.
        List<String> commands = new ArrayList<>();
        CommandRunner recording = new CommandRunner() {
            @Override
            public Result runAllowingFailure(List<String> argv, Map<String, String> env, Duration timeout)
                    throws dev.pmemcsi.pmemnative.CommandFailedException {
                commands.add(argv.get(1));
                return super.runAllowingFailure(argv, env, timeout);
            }
        };
        LvmDeviceManager restarted = new LvmDeviceManager(DRIVER, pool(devices), config, recording,
                new BlockDeviceEraser(BlockDeviceEraser.Method.ZEROOUT), OperationListener.NONE, Path.of("/sys"),
                BlockDevice::isBusy);
        restarted.start();
        assertEquals(List.of("pvs", "fullreport"), commands);
        assertEquals(m.listVolumes(), restarted.listVolumes());
        assertEquals(24 * MIB, restarted.getVolume(v2.id()).orElseThrow().capacityBytes());

        restarted.deleteVolume(v1.id(), false);
        restarted.deleteVolume(v2.id(), false);
        assertEquals(List.of(), cli.state().volumes());
        assertEquals(c.totalBytes(), restarted.capacity().availableBytes());
    }

    @Test
    void anInterruptedCreateIsRemovedAtStartAndOthersAreNeverTouched() throws Exception {
        String a = loop("a", 128 * MIB);
        String foreign = loop("foreign", 64 * MIB);
        String outside = loop("outside", 64 * MIB);
        // Someone else's volume group on a pool device, and one on a device that is not in the pool.
        lvm("vgcreate", "theirs", foreign);
        lvm("vgcreate", "elsewhere", outside);
        List<PoolDevice> devices = List.of(device(a, 128 * MIB), device(foreign, 64 * MIB));
        LvmDeviceManager m = manager(devices);
        m.start();
        PmemVolume v = m.createVolume(request("pvc-1", 16 * MIB));

        // The create was recorded and lvcreate returned, then the driver died before the wipe:
        // the volume has its final tags, and its create is still pending.
        LvmCli cli = new LvmCli(RUN, config, List.of(a, foreign));
        String vg = "pmemcsi.static." + Path.of(a).getFileName();
        String id = VolumeIds.fromName("pvc-crashed");
        new PendingCreates(config.pendingDir()).record(new PendingCreates.Pending(vg, LvmNaming.logicalVolumeName(id), id));
        cli.createLogicalVolume(vg, LvmNaming.logicalVolumeName(id), 8 * MIB,
                new LvmNaming(DRIVER).tagsOf(id, false, 0, dev.pmemcsi.device.VolumeAccess.UNRECORDED, Map.of()));
        assertEquals(2, cli.state().volumes().size());
        assertTrue(m.getVolume(id).isEmpty(), "a volume that is still being created is no volume");

        LvmDeviceManager restarted = manager(devices);
        restarted.start();
        assertEquals(List.of(v.id()), restarted.listVolumes().stream().map(PmemVolume::id).toList());
        assertEquals(1, cli.state().volumes().size());

        List<UnmanagedExtent> reported = restarted.unmanagedExtents();
        assertEquals(1, reported.size());
        assertEquals(foreign, reported.get(0).name());
        assertEquals("physical volume of volume group theirs, which the driver does not own", reported.get(0).reason());
        // The pool's lvm never sees the device outside the pool.
        assertFalse(cli.physicalVolumes().stream().anyMatch(p -> p.device().equals(outside)));
        assertEquals(List.of("theirs"), cli.state().groups().stream().map(LvmReports.VolumeGroup::name)
                .filter(n -> !n.startsWith("pmemcsi.")).toList());
        restarted.deleteVolume(v.id(), false);
    }

    @Test
    void aDeviceWithAFilesystemIsLeftAlone() throws Exception {
        String a = loop("a", 64 * MIB);
        RUN.run(List.of("mkfs.ext4", "-q", a), TIMEOUT);
        LvmDeviceManager m = manager(List.of(device(a, 64 * MIB)));
        dev.pmemcsi.device.DeviceException e = assertThrows(dev.pmemcsi.device.DeviceException.class, m::start);
        assertTrue(e.getMessage().contains("ext4 signature detected"), e.getMessage());
        assertEquals("", RUN.run(List.of("blkid", "-p", "-s", "TYPE", "-o", "value", a), TIMEOUT).stdout().strip()
                .replace("ext4", ""), "still ext4");
    }
}
