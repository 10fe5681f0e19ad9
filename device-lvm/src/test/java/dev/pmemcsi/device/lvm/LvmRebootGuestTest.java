package dev.pmemcsi.device.lvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.VolumeAccess;
import dev.pmemcsi.device.VolumeIds;
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
import java.util.Optional;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * LVM volumes and their data survive a reboot of the machine, in two boots of the QEMU guest over
 * the same NVDIMM backing files ({@code tests/e2e/qemu/reboot-lvm.sh}):
 *
 * <ol>
 *   <li>{@code write}: pools a new fsdax namespace, makes an ext4 and an xfs volume, mounts each
 *       with DAX, writes a file and syncs it, and notes the volume IDs and checksums in the
 *       manifest. The filesystems stay mounted: the guest is powered off under them, as a power
 *       loss would.</li>
 *   <li>{@code verify}, after the new boot: a new driver finds both volumes from lvm's tags alone
 *       (no state directory survives: the guest's disk is a tmpfs), activates them, and each
 *       filesystem mounts with DAX and holds the file it had; then everything is removed.</li>
 * </ol>
 *
 * The phase comes from {@code -Dpmemcsi.e2e.reboot-phase}, the manifest's path from
 * {@code -Dpmemcsi.e2e.reboot-manifest}; without them (every other guest run) the tests are skipped.
 */
class LvmRebootGuestTest {

    private static final long MIB = 1024 * 1024;
    private static final String DRIVER = "reboot-test.pmem-csi.dev";
    private static final String NAMESPACE = "lvm-reboot-test";
    private static final CommandRunner RUN = new CommandRunner();
    private static final Duration TIMEOUT = Duration.ofMinutes(3);
    private static final List<String> FILESYSTEMS = List.of("ext4", "xfs");
    /** xfsprogs refuses filesystems under 300 MiB. */
    private static final long VOLUME_BYTES = 320 * MIB;
    private static final int FILE_BYTES = 16 * (int) MIB;

    private static String phase() {
        return System.getProperty("pmemcsi.e2e.reboot-phase", "");
    }

    private static Path manifest() {
        return Path.of(System.getProperty("pmemcsi.e2e.reboot-manifest", ""));
    }

    @Test
    void beforeTheRebootVolumesAreWrittenAndLeftMounted() throws Exception {
        assumeTrue(phase().equals("write"), "only the first boot of reboot-lvm.sh writes");
        modprobeDeviceMapper();
        String out = run("ndctl", "create-namespace", "--region=region0", "--mode=fsdax", "--size=1G",
                "--name=" + NAMESPACE);
        String pmem = "/dev/" + field(out, "blockdev");
        try (BlockDevice dev = BlockDevice.open(Path.of(pmem), true)) {
            dev.zeroOut(0, MIB);
            dev.zeroOut(dev.sizeBytes() - MIB, MIB);
        }
        LvmDeviceManager dm = manager(pmem);
        List<String> lines = new ArrayList<>();
        for (String fs : FILESYSTEMS) {
            PmemVolume v = dm.createVolume(new VolumeRequest(VolumeIds.fromName("pvc-reboot-" + fs), VOLUME_BYTES, 0,
                    VolumeMode.FSDAX, false, Map.of("usage", "AppDirect"), VolumeAccess.filesystem(fs)));
            // DAX needs the page size as block size (mkfs.ext4 picks 1 KiB under 512 MiB) and no reflink.
            run(fs.equals("ext4") ? List.of("mkfs.ext4", "-q", "-F", "-b", "4096", v.devicePath().toString())
                    : List.of("mkfs.xfs", "-q", "-f", "-m", "reflink=0", v.devicePath().toString()));
            Path mnt = Files.createDirectories(Path.of("/run/lvm-reboot/" + fs));
            run("mount", "-o", "dax=always", v.devicePath().toString(), mnt.toString());
            Path file = mnt.resolve("data");
            String sha = writeRandom(file, fs.hashCode());
            assertEquals(Optional.of(true), FileAttributes.of(file).dax(), fs + ": the file bypasses the page cache");
            lines.add(fs + " " + v.id() + " " + sha);
        }
        try (FileChannel ch = FileChannel.open(manifest(), StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ch.write(ByteBuffer.wrap((String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8)));
            ch.force(true);
        }
    }

    @Test
    void afterTheRebootTheVolumesAreFoundActivatedAndHoldTheirData() throws Exception {
        assumeTrue(phase().equals("verify"), "only the second boot of reboot-lvm.sh verifies");
        List<String[]> expected = Files.readAllLines(manifest()).stream().filter(l -> !l.isBlank())
                .map(l -> l.split(" ")).toList();
        assertEquals(FILESYSTEMS.size(), expected.size(), "the first boot noted every volume: " + manifest());
        modprobeDeviceMapper();
        String namespace = namespaceNamed(NAMESPACE, run("ndctl", "list", "--namespaces"));
        String pmem = "/dev/" + field(namespace, "blockdev");
        LvmDeviceManager dm = manager(pmem);
        assertEquals(expected.stream().map(e -> e[1]).sorted().toList(),
                dm.listVolumes().stream().map(PmemVolume::id).toList(), "found from lvm's tags alone");
        for (String[] e : expected) {
            String fs = e[0];
            PmemVolume v = dm.getVolume(e[1]).orElseThrow();
            assertEquals(VOLUME_BYTES, v.capacityBytes());
            assertEquals(fs, v.access().filesystem());
            assertTrue(Files.exists(v.devicePath()), "activated at start: " + v.devicePath());
            Path mnt = Files.createDirectories(Path.of("/run/lvm-reboot/" + fs));
            // The filesystem was not unmounted before the power went: the mount replays its journal.
            run("mount", "-o", "dax=always", v.devicePath().toString(), mnt.toString());
            try {
                Path file = mnt.resolve("data");
                assertEquals(e[2], sha256(file), fs + ": the data written before the reboot");
                assertEquals(Optional.of(true), FileAttributes.of(file).dax(), fs + ": still DAX");
            } finally {
                run("umount", mnt.toString());
            }
            dm.deleteVolume(v.id(), false);
        }
        assertEquals(List.of(), dm.listVolumes());
        dm.close();
        LvmConfig config = LvmConfig.under(Files.createTempDirectory("lvm-reboot"));
        for (LvmReports.PhysicalVolume pv : new LvmCli(RUN, config, List.of(pmem)).physicalVolumes()) {
            lvm(config, pmem, "vgremove", "--force", pv.vgName());
        }
        lvm(config, pmem, "pvremove", "--yes", pmem);
        run("ndctl", "destroy-namespace", "--force", field(namespace, "dev"));
    }

    private static void lvm(LvmConfig config, String pmem, String command, String... args) throws Exception {
        List<String> argv = new ArrayList<>(List.of("lvm", command, "--config", config.commandConfig(List.of(pmem))));
        argv.addAll(List.of(args));
        CommandRunner.Result r = RUN.runAllowingFailure(argv, LvmCli.ENVIRONMENT, TIMEOUT);
        if (r.exitCode() != 0) {
            throw new IOException(argv + " failed: " + r.stderr());
        }
    }

    private static LvmDeviceManager manager(String pmem) throws Exception {
        // A new state directory in each boot: the volumes are found from lvm alone.
        LvmDeviceManager dm = new LvmDeviceManager(DRIVER, new StaticPoolDevices(List.of(pmem), 100),
                LvmConfig.under(Files.createTempDirectory("lvm-reboot")), OperationListener.NONE);
        dm.start();
        return dm;
    }

    private static void modprobeDeviceMapper() throws Exception {
        if (!Files.exists(Path.of("/sys/class/misc/device-mapper"))) {
            run("modprobe", "dm_mod");
        }
    }

    /** The one namespace object of {@code ndctl list} whose name is {@code name}. */
    static String namespaceNamed(String name, String listing) {
        Matcher m = Pattern.compile("\\{[^{}]*\"name\"\\s*:\\s*\"" + Pattern.quote(name) + "\"[^{}]*\\}").matcher(listing);
        assertTrue(m.find(), "no namespace named " + name + " after the reboot: " + listing);
        return m.group();
    }

    private static String field(String json, String key) {
        Matcher m = Pattern.compile("\"" + key + "\"\\s*:\\s*\"([^\"]+)\"").matcher(json);
        assertTrue(m.find(), "no " + key + " in " + json);
        return m.group(1);
    }

    private static String writeRandom(Path file, long seed) throws Exception {
        byte[] data = new byte[FILE_BYTES];
        new Random(seed).nextBytes(data);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer buf = ByteBuffer.wrap(data);
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            ch.force(true);
        }
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    }

    private static String sha256(Path file) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }

    private static String run(String... argv) throws CommandFailedException {
        return run(List.of(argv));
    }

    private static String run(List<String> argv) throws CommandFailedException {
        return RUN.run(argv, TIMEOUT).stdout();
    }
}
