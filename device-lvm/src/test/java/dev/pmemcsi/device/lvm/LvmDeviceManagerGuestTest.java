package dev.pmemcsi.device.lvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pmemcsi.device.BlockDeviceEraser;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.device.VolumeInUseException;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.pmemnative.BlockDevice;
import dev.pmemcsi.pmemnative.CommandFailedException;
import dev.pmemcsi.pmemnative.CommandRunner;
import dev.pmemcsi.pmemnative.mount.FileAttributes;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * LVM mode on an emulated NVDIMM with device-mapper (QEMU guest): the test makes its own pool
 * device, an fsdax namespace of 1 GiB on region0 named {@value #NAMESPACE}, pools it with
 * {@link StaticPoolDevices}, and removes volume group, physical volume and namespace afterwards,
 * so that the regions are empty again for the other guest tests.
 */
class LvmDeviceManagerGuestTest {

    private static final long MIB = 1024 * 1024;
    private static final String DRIVER = "guest-test.pmem-csi.dev";
    private static final String NAMESPACE = "lvm-guest-test";
    private static final CommandRunner RUN = new CommandRunner();
    private static final Duration TIMEOUT = Duration.ofMinutes(2);
    private static final ObjectMapper JSON = new ObjectMapper();

    private static Path work;
    private static String namespace;
    private static String pmem;
    private static LvmConfig config;
    private LvmDeviceManager dm;

    @BeforeAll
    static void poolDevice() throws Exception {
        if (!Files.exists(Path.of("/sys/class/misc/device-mapper"))) {
            run("modprobe", "dm_mod");
        }
        work = Files.createTempDirectory("lvm-guest");
        JsonNode ns = JSON.readTree(run("ndctl", "create-namespace", "--region=region0", "--mode=fsdax", "--size=1G",
                "--name=" + NAMESPACE));
        namespace = ns.path("dev").asText();
        pmem = "/dev/" + ns.path("blockdev").asText();
        // The namespace lies where earlier tests' namespaces were: a filesystem signature of theirs
        // would make pvcreate refuse it, as it must refuse any device with data.
        try (BlockDevice dev = BlockDevice.open(Path.of(pmem), true)) {
            dev.zeroOut(0, MIB);
            dev.zeroOut(dev.sizeBytes() - MIB, MIB);
        }
        config = LvmConfig.under(work.resolve("lvm"));
    }

    @AfterAll
    static void removePoolDevice() throws Exception {
        if (namespace == null) {
            return;
        }
        LvmCli cli = new LvmCli(RUN, config, List.of(pmem));
        for (LvmReports.PhysicalVolume pv : cli.physicalVolumes()) {
            if (!pv.isOrphan()) {
                lvm("vgremove", "--force", pv.vgName());
            }
            lvm("pvremove", "--yes", pmem);
        }
        run("ndctl", "destroy-namespace", "--force", namespace);
    }

    @AfterEach
    void noLeaks() throws Exception {
        if (dm != null) {
            for (PmemVolume v : dm.listVolumes()) {
                dm.deleteVolume(v.id(), false);
            }
            assertEquals(List.of(), lvmState().volumes(), "no logical volume left");
            dm.close();
        }
    }

    private static LvmDeviceManager manager(CommandRunner runner) throws Exception {
        LvmDeviceManager m = new LvmDeviceManager(DRIVER, new StaticPoolDevices(List.of(pmem), 100), config, runner,
                new BlockDeviceEraser(BlockDeviceEraser.Method.ZEROOUT), OperationListener.NONE, Path.of("/sys"),
                BlockDevice::isBusy);
        m.start();
        return m;
    }

    private static VolumeRequest request(String name, long bytes, boolean erase) {
        return new VolumeRequest(VolumeIds.fromName(name), bytes, 0, VolumeMode.FSDAX, erase, Map.of("usage", "AppDirect"));
    }

    @Test
    void daxFilesystemsOnLogicalVolumesGrowOnlineWithTheirData() throws Exception {
        dm = manager(RUN);
        assertEquals("pmemcsi.ndbus0.region0", new LvmCli(RUN, config, List.of(pmem)).physicalVolumes().get(0).vgName());
        for (String fs : List.of("ext4", "xfs")) {
            // mkfs.xfs wants 300 MiB at least.
            long size = fs.equals("xfs") ? 304 * MIB : 64 * MIB;
            PmemVolume v = dm.createVolume(request("pvc-dax-" + fs, size, false));
            assertEquals("region0", v.region());
            assertTrue(v.daxCapable(), "an LV over an fsdax namespace is DAX-capable");
            assertTrue(Files.exists(v.devicePath()), v.devicePath() + " made without udev");
            assertEquals("1", Files.readString(sysBlock(v).resolve("queue/dax")).strip(), v.devicePath() + " supports DAX");

            Path mnt = Files.createDirectories(work.resolve("mnt-" + fs));
            run(fs.equals("ext4") ? List.of("mkfs.ext4", "-q", "-F", "-b", "4096", v.devicePath().toString())
                    : List.of("mkfs.xfs", "-q", "-f", "-m", "reflink=0", v.devicePath().toString()));
            run("mount", "-o", "dax=always", v.devicePath().toString(), mnt.toString());
            try {
                long fsBefore = Files.getFileStore(mnt).getTotalSpace();
                Path before = mnt.resolve("before.bin");
                String sum = writeRandom(before, 8 * MIB);
                assertEquals(java.util.Optional.of(true), FileAttributes.of(before).dax(), fs + ": the file bypasses the page cache");
                assertThrows(VolumeInUseException.class, () -> dm.deleteVolume(v.id(), true), "mounted");

                PmemVolume grown = dm.expandVolume(v.id(), size + 64 * MIB, 0, true);
                assertEquals(size + 64 * MIB, grown.capacityBytes());
                assertEquals(v.devicePath(), grown.devicePath());
                try (BlockDevice dev = BlockDevice.open(v.devicePath(), false)) {
                    assertEquals(size + 64 * MIB, dev.sizeBytes(), "the device grew while mounted");
                }
                run(fs.equals("ext4") ? List.of("resize2fs", v.devicePath().toString()) : List.of("xfs_growfs", mnt.toString()));
                long fsAfter = Files.getFileStore(mnt).getTotalSpace();
                assertTrue(fsAfter >= fsBefore + 60 * MIB, fs + " grew online from " + fsBefore + " to " + fsAfter);
                assertEquals(sum, sha256(before), "data written before the growth");
                Path after = mnt.resolve("after.bin");
                String sum2 = writeRandom(after, 40 * MIB);
                assertEquals(java.util.Optional.of(true), FileAttributes.of(after).dax());
                assertEquals(sum2, sha256(after));
            } finally {
                run("umount", mnt.toString());
            }
            run(fs.equals("ext4") ? List.of("e2fsck", "-f", "-n", v.devicePath().toString())
                    : List.of("xfs_repair", "-n", v.devicePath().toString()));
            dm.deleteVolume(v.id(), false);
            assertFalse(Files.exists(v.devicePath()));
        }
    }

    @Test
    void aVolumeLargerThanAnyGapIsMadeFromSeveralRanges() throws Exception {
        dm = manager(RUN);
        long free = dm.capacity().availableBytes();
        long third = free / 4 / (4 * MIB) * (4 * MIB);
        dm.createVolume(request("pvc-frag-1", third, false));
        PmemVolume middle = dm.createVolume(request("pvc-frag-2", third, false));
        dm.createVolume(request("pvc-frag-3", third, false));
        dm.deleteVolume(middle.id(), false);
        long left = dm.capacity().availableBytes();
        assertEquals(left, dm.capacity().maxVolumeBytes());
        // Larger than the hole in the middle and than the space at the end: direct mode cannot.
        long big = left - 4 * MIB;
        assertTrue(big > third && big > left - third);
        PmemVolume v = dm.createVolume(request("pvc-frag-big", big, false));
        assertEquals(big, v.capacityBytes());
        assertEquals(2, extents(v).size(), "two ranges of extents: " + extents(v));
        assertEquals("1", Files.readString(sysBlock(v).resolve("queue/dax")).strip(), "still DAX over two ranges");
    }

    /**
     * A driver that dies in the middle of a create and of an erasing delete, and the next start:
     * what lvm's tags say is all it knows. The process "dies" right after the lvm command that a
     * fault point follows: an Error, which the manager does not roll back, as a kill would not.
     */
    @Test
    void aRestartFindsVolumesByTheirTagsAndFinishesWhatACrashLeft() throws Exception {
        AtomicReference<Predicate<List<String>>> crashAfter = new AtomicReference<>(argv -> false);
        LvmDeviceManager crashing = manager(new CommandRunner() {
            @Override
            public Result runAllowingFailure(List<String> argv, Map<String, String> env, Duration timeout)
                    throws CommandFailedException {
                Result r = super.runAllowingFailure(argv, env, timeout);
                if (r.exitCode() == 0 && crashAfter.get().test(argv)) {
                    throw new SimulatedCrash(argv);
                }
                return r;
            }
        });
        PmemVolume keep = crashing.createVolume(request("pvc-keep", 16 * MIB, false));
        PmemVolume erasing = crashing.createVolume(request("pvc-erasing", 16 * MIB, true));
        writeMarker(keep, DEEP);
        writeMarker(erasing, DEEP);
        List<String> keepPlace = extents(keep);
        List<String> erasingPlace = extents(erasing);
        crashAfter.set(argv -> argv.get(1).equals("lvchange") && argv.stream().anyMatch(a -> a.endsWith("/state=deleting")));
        assertThrows(SimulatedCrash.class, () -> crashing.deleteVolume(erasing.id(), false));
        crashAfter.set(argv -> argv.get(1).equals("lvcreate"));
        assertThrows(SimulatedCrash.class, () -> crashing.createVolume(request("pvc-creating", 16 * MIB, false)));
        assertEquals(3, lvmState().volumes().size(), "a volume, an unfinished delete and an unfinished create");

        // The new driver process: the volume is there as it was, the rest finished.
        dm = manager(RUN);
        assertEquals(List.of(keep), dm.listVolumes());
        assertEquals(1, lvmState().volumes().size());

        // Deleted without erase, the data stays on the extents; the erase the crashed delete
        // recorded did happen. New volumes take the lowest free extents: the same places.
        dm.deleteVolume(keep.id(), false);
        PmemVolume unerased = dm.createVolume(request("pvc-after-keep", 16 * MIB, true));
        PmemVolume erased = dm.createVolume(request("pvc-after-erasing", 16 * MIB, false));
        assertEquals(keepPlace, extents(unerased));
        assertEquals(erasingPlace, extents(erased));
        assertTrue(zeros(unerased, 0), "a new volume's signature area is wiped");
        assertFalse(zeros(unerased, DEEP), "without erase the old data is still there");
        assertTrue(zeros(erased, DEEP), "the interrupted delete erased as recorded");

        // An ordinary delete with erase (recorded at create).
        writeMarker(unerased, DEEP);
        dm.deleteVolume(unerased.id(), false);
        PmemVolume reused = dm.createVolume(request("pvc-reused", 16 * MIB, false));
        assertEquals(keepPlace, extents(reused));
        assertTrue(zeros(reused, DEEP), "erased data reads as zeros");
    }

    // ---- helpers

    /** The device's directory in sysfs, found by its device number: libdevmapper makes real nodes, not links to dm-N. */
    private static Path sysBlock(PmemVolume v) throws IOException {
        long rdev = (Long) Files.getAttribute(v.devicePath(), "unix:rdev");
        long major = ((rdev >>> 8) & 0xfff) | ((rdev >>> 32) & ~0xfffL);
        long minor = (rdev & 0xff) | ((rdev >>> 12) & ~0xffL);
        return Path.of("/sys/dev/block/" + major + ":" + minor);
    }

    /** Past the first MiB, which every new volume has wiped. */
    private static final long DEEP = 8 * MIB;

    static final class SimulatedCrash extends Error {
        private static final long serialVersionUID = 1L;

        SimulatedCrash(List<String> argv) {
            super("simulated crash after " + argv.get(1));
        }
    }

    private static LvmReports.State lvmState() throws Exception {
        return new LvmCli(RUN, config, List.of(pmem)).state();
    }

    private List<String> extents(PmemVolume v) throws Exception {
        String lv = LvmNaming.logicalVolumeName(v.id());
        return lvmState().volumes().stream().filter(l -> l.name().equals(lv))
                .findFirst().map(LvmReports.LogicalVolume::peRanges).orElse(List.of());
    }

    private static void writeMarker(PmemVolume v, long offset) throws IOException {
        try (FileChannel ch = FileChannel.open(v.devicePath(), StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap("marker".repeat(1000).getBytes(StandardCharsets.US_ASCII)), offset);
            ch.force(true);
        }
    }

    private static boolean zeros(PmemVolume v, long offset) throws Exception {
        try (BlockDevice bd = BlockDevice.open(v.devicePath(), true, true)) {
            return bd.isZero(offset, 8192);
        }
    }

    private static String writeRandom(Path file, long bytes) throws Exception {
        byte[] chunk = new byte[(int) MIB];
        Random random = new Random(bytes);
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (long done = 0; done < bytes; done += chunk.length) {
                random.nextBytes(chunk);
                md.update(chunk);
                ch.write(ByteBuffer.wrap(chunk));
            }
            ch.force(true);
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static String sha256(Path file) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        md.update(Files.readAllBytes(file));
        return HexFormat.of().formatHex(md.digest());
    }

    private static String lvm(String command, String... args) throws Exception {
        List<String> argv = new ArrayList<>(List.of("lvm", command, "--config", LvmCli.configText(config, List.of(pmem))));
        argv.addAll(List.of(args));
        CommandRunner.Result r = RUN.runAllowingFailure(argv, LvmCli.ENVIRONMENT, TIMEOUT);
        if (r.exitCode() != 0) {
            throw new IOException(argv + " failed: " + r.stderr());
        }
        return r.stdout();
    }

    private static String run(String... argv) throws Exception {
        return run(List.of(argv));
    }

    private static String run(List<String> argv) throws Exception {
        return RUN.run(argv, TIMEOUT).stdout();
    }
}
