package dev.pmemcsi.bench.guest;

import dev.pmemcsi.app.observability.Logging;
import dev.pmemcsi.bench.Commands;
import dev.pmemcsi.device.BlockDeviceEraser;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.device.lvm.LvmConfig;
import dev.pmemcsi.device.lvm.LvmDeviceManager;
import dev.pmemcsi.device.lvm.StaticPoolDevices;
import dev.pmemcsi.pmemnative.AtomicFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * CreateVolume/DeleteVolume in LVM mode through the device layer against lvm's own
 * {@code lvcreate} and {@code lvremove} on the same volume group, and online growth of a mounted
 * ext4 volume against {@code lvextend} + {@code resize2fs}, run with the same
 * {@code --config} and the same options the driver gives them. The ratio is what the driver adds
 * around lvm: its reports, tags, signature wipes and locks. Prints {@code BENCH} lines with
 * medians; asserts nothing. Needs real NVDIMMs and device-mapper: it runs in the QEMU guest's
 * {@code guest-benchmarks} step ({@code E2E_BENCHMARKS=1}).
 *
 * <p>The pool is an fsdax namespace of 2 GiB that the program makes in the first region and
 * removes at the end, with its volume group. Usage: {@code LvmProvisioningBenchmark [runs]}
 * (default 10).
 */
public final class LvmProvisioningBenchmark {

    private static final String PROGRAM = "LvmProvisioningBenchmark";
    private static final long MIB = 1024 * 1024;
    private static final String POOL_NAME = "bench-lvm-pool";
    private static final String CLI_LV = "cli-bench";
    private static final Pattern BLOCKDEV = Pattern.compile("\"blockdev\"\\s*:\\s*\"(pmem[0-9.]+)\"");
    private static final Pattern REGION = Pattern.compile("\"dev\"\\s*:\\s*\"(region[0-9]+)\"");

    private LvmProvisioningBenchmark() {}

    public static void main(String[] args) throws Exception {
        int runs = Guest.runs(PROGRAM, args, 10);
        Logging.configure(Logging.Format.TEXT, "warn");
        String device = makePool();
        Path lvmDir = Files.createTempDirectory("bench-lvm");
        LvmConfig config = LvmConfig.under(lvmDir);
        String commandConfig = config.commandConfig(List.of(device));
        LvmDeviceManager dm = new LvmDeviceManager("bench.pmem-csi.dev",
                new StaticPoolDevices(List.of(device), 100), config, OperationListener.NONE);
        boolean started = false;
        try {
            dm.start();
            started = true;
            String vg = volumeGroup(commandConfig);
            compare(dm, vg, commandConfig, runs);
            createSteps(vg, commandConfig, config, runs);
            expansion(dm, vg, commandConfig, Math.max(3, runs / 2));
        } catch (DeviceException | LinkageError e) {
            if (started) {
                throw e;
            }
            System.err.println(PROGRAM + ": LVM mode does not start on this machine: " + e.getMessage());
            System.err.println(PROGRAM + ": " + Guest.HOW_TO_RUN);
        } finally {
            // Before any exit: the pool namespace must not outlive the program in the regions
            // that the next benchmark measures.
            dm.close();
            removePool(device, commandConfig);
        }
        if (!started) {
            System.exit(2);
        }
    }

    private static void compare(LvmDeviceManager dm, String vg, String commandConfig, int runs) throws Exception {
        List<Long> create = new ArrayList<>();
        List<Long> delete = new ArrayList<>();
        List<Long> cliCreate = new ArrayList<>();
        List<Long> cliRemove = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            VolumeRequest req = new VolumeRequest("bench-" + i, 512 * MIB, 0, VolumeMode.FSDAX, false, Map.of());
            long t0 = System.nanoTime();
            PmemVolume v = dm.createVolume(req);
            long t1 = System.nanoTime();
            dm.deleteVolume(v.id(), false);
            long t2 = System.nanoTime();
            create.add(t1 - t0);
            delete.add(t2 - t1);

            t0 = System.nanoTime();
            lvm("lvcreate", "--config", commandConfig, "--type", "linear", "--name", CLI_LV,
                    "--size", v.allocatedBytes() + "b", "--wipesignatures", "n", "--zero", "n", "--activate", "y", vg);
            t1 = System.nanoTime();
            lvm("lvremove", "--config", commandConfig, "--force", vg + "/" + CLI_LV);
            t2 = System.nanoTime();
            cliCreate.add(t1 - t0);
            cliRemove.add(t2 - t1);
        }
        print("lvm create 512 MiB", create, cliCreate, "lvcreate");
        print("lvm delete (no erase)", delete, cliRemove, "lvremove");
    }

    /**
     * What a create does besides its {@code lvcreate}, each step alone on a volume the CLI made:
     * wiping the first and last MiB (exclusive open, two BLKZEROOUT, fsync) and writing then
     * deleting the durable record of a pending create in the driver's own directory.
     */
    private static void createSteps(String vg, String commandConfig, LvmConfig config, int runs) throws Exception {
        lvm("lvcreate", "--config", commandConfig, "--type", "linear", "--name", CLI_LV,
                "--size", (512 * MIB) + "b", "--wipesignatures", "n", "--zero", "n", "--activate", "y", vg);
        Path device = Path.of("/dev/mapper/" + vg.replace("-", "--") + "-" + CLI_LV.replace("-", "--"));
        Path record = config.pendingDir().resolve("bench-record");
        Files.createDirectories(config.pendingDir());
        BlockDeviceEraser eraser = new BlockDeviceEraser(BlockDeviceEraser.Method.ZEROOUT);
        List<Long> wipe = new ArrayList<>();
        List<Long> note = new ArrayList<>();
        try {
            for (int i = 0; i < runs; i++) {
                long t0 = System.nanoTime();
                eraser.wipeSignatures("bench", device);
                long t1 = System.nanoTime();
                AtomicFile.write(record, "vg\nlv\nid\n".getBytes(StandardCharsets.UTF_8), AtomicFile.Durability.DURABLE);
                AtomicFile.delete(record);
                long t2 = System.nanoTime();
                wipe.add(t1 - t0);
                note.add(t2 - t1);
            }
        } finally {
            lvm("lvremove", "--config", commandConfig, "--force", vg + "/" + CLI_LV);
        }
        System.out.printf("BENCH lvm create steps: wipe of the first and last MiB median %.1f ms (min/max %.1f/%.1f),"
                + " pending-create record written and deleted median %.1f ms (min/max %.1f/%.1f; %s) (%d runs)%n",
                Guest.percentile(wipe, 50), Collections.min(wipe) / 1e6, Collections.max(wipe) / 1e6,
                Guest.percentile(note, 50), Collections.min(note) / 1e6, Collections.max(note) / 1e6,
                Files.getFileStore(config.pendingDir()).type(), runs);
    }

    /**
     * Online growth of a mounted ext4 volume by 256 MiB: {@code expandVolume} (lvextend and the
     * capacity tag) plus {@code resize2fs}, as ControllerExpandVolume and NodeExpandVolume do it,
     * against {@code lvextend} plus {@code resize2fs} by hand on a volume made the same way.
     */
    private static void expansion(LvmDeviceManager dm, String vg, String commandConfig, int runs) throws Exception {
        Path mnt = Files.createTempDirectory("bench-lvm-grow");
        List<Long> ours = new ArrayList<>();
        List<Long> floor = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            PmemVolume v = dm.createVolume(new VolumeRequest("bench-grow-" + i, 512 * MIB, 0, VolumeMode.FSDAX, false,
                    Map.of()));
            try {
                mountExt4(v.devicePath().toString(), mnt);
                try {
                    long t0 = System.nanoTime();
                    dm.expandVolume(v.id(), v.capacityBytes() + 256 * MIB, 0, true);
                    Guest.run("resize2fs", v.devicePath().toString());
                    ours.add(System.nanoTime() - t0);
                } finally {
                    Guest.run("umount", mnt.toString());
                }
            } finally {
                dm.deleteVolume(v.id(), false);
            }

            lvm("lvcreate", "--config", commandConfig, "--type", "linear", "--name", CLI_LV,
                    "--size", v.allocatedBytes() + "b", "--wipesignatures", "n", "--zero", "n", "--activate", "y", vg);
            String device = "/dev/mapper/" + vg.replace("-", "--") + "-" + CLI_LV.replace("-", "--");
            try {
                mountExt4(device, mnt);
                try {
                    long t0 = System.nanoTime();
                    lvm("lvextend", "--config", commandConfig, "--size", "+256m", vg + "/" + CLI_LV);
                    Guest.run("resize2fs", device);
                    floor.add(System.nanoTime() - t0);
                } finally {
                    Guest.run("umount", mnt.toString());
                }
            } finally {
                lvm("lvremove", "--config", commandConfig, "--force", vg + "/" + CLI_LV);
            }
        }
        print("lvm grow mounted ext4 512+256 MiB", ours, floor, "lvextend+resize2fs");
    }

    private static void mountExt4(String device, Path mnt) throws Exception {
        Guest.run("mkfs.ext4", "-q", "-F", device);
        Guest.run("mount", "-o", "dax", device, mnt.toString());
    }

    /** The driver's volume group on the pool device: one device, so one group. */
    private static String volumeGroup(String commandConfig) throws Exception {
        List<String> groups = volumeGroups(commandConfig);
        if (groups.size() != 1) {
            throw new IllegalStateException("expected the driver's one volume group on the pool, found " + groups);
        }
        return groups.get(0);
    }

    private static List<String> volumeGroups(String commandConfig) throws Exception {
        List<String> groups = new ArrayList<>();
        for (String vg : lvm("vgs", "--config", commandConfig, "--noheadings", "-o", "vg_name")
                .strip().split("\\s+")) {
            if (!vg.isEmpty()) {
                groups.add(vg);
            }
        }
        return groups;
    }

    /** A 2 GiB fsdax namespace in the first region, its first MiB zeroed so that pvcreate takes it. */
    private static String makePool() throws Exception {
        Matcher region = REGION.matcher(Guest.run("ndctl", "list", "--regions"));
        if (!region.find()) {
            System.err.println(PROGRAM + ": no nvdimm region; " + Guest.HOW_TO_RUN);
            System.exit(2);
        }
        String made = Guest.run("ndctl", "create-namespace", "--region=" + region.group(1), "--mode=fsdax",
                "--size=2G", "--name=" + POOL_NAME);
        Matcher dev = BLOCKDEV.matcher(made);
        if (!dev.find()) {
            throw new IllegalStateException("ndctl create-namespace printed no block device: " + made);
        }
        String device = "/dev/" + dev.group(1);
        Guest.run("dd", "if=/dev/zero", "of=" + device, "bs=1M", "count=1", "oflag=direct", "status=none");
        return device;
    }

    private static void removePool(String device, String commandConfig) throws Exception {
        for (String vg : volumeGroups(commandConfig)) {
            lvm("vgremove", "--config", commandConfig, "--force", vg);
        }
        lvm("pvremove", "--config", commandConfig, "--yes", device);
        String ns = Guest.run("ndctl", "list", "--namespaces");
        Matcher m = Pattern.compile("\"dev\"\\s*:\\s*\"(namespace[0-9.]+)\"[^}]*\"name\"\\s*:\\s*\"" + POOL_NAME + "\"")
                .matcher(ns);
        while (m.find()) {
            Guest.run("ndctl", "destroy-namespace", "--force", m.group(1));
        }
    }

    /**
     * lvm as the driver runs it: no udev in the guest, as in the driver's container, and the
     * JVM's own descriptors are no business of lvm's.
     */
    private static String lvm(String... argv) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("lvm"));
        cmd.addAll(List.of(argv));
        return Commands.run(cmd, Map.of("DM_DISABLE_UDEV", "1", "LVM_SUPPRESS_FD_WARNINGS", "1", "LC_ALL", "C"));
    }

    private static void print(String what, List<Long> ours, List<Long> cli, String floor) {
        double a = Guest.percentile(ours, 50);
        double b = Guest.percentile(cli, 50);
        System.out.printf("BENCH %s: device layer median %.1f ms, %s median %.1f ms, ratio %.2f (%d runs; min/max ours %.1f/%.1f, %s %.1f/%.1f)%n",
                what, a, floor, b, a / b, ours.size(), Collections.min(ours) / 1e6, Collections.max(ours) / 1e6,
                floor, Collections.min(cli) / 1e6, Collections.max(cli) / 1e6);
    }
}
