package dev.pmemcsi.device.lvm;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.pmemcsi.pmemnative.CommandFailedException;
import dev.pmemcsi.pmemnative.CommandRunner;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The thin edge to lvm2: each method is one {@code lvm} command, built from an argument vector (no
 * shell) and run with the same settings.
 *
 * <ul>
 *   <li>udev stays out: {@code DM_DISABLE_UDEV=1}, so that libdevmapper makes the device nodes
 *       itself, and {@code udev_sync=0 udev_rules=0 obtain_device_list_from_udev=0}, since a
 *       container has no udev to wait for and lvm would otherwise roll a create back;</li>
 *   <li>lvm sees the pool devices and nothing else: {@code filter} and {@code global_filter} accept
 *       exactly their paths and reject every other device, and the devices file, scan hints,
 *       lvmpolld and dmeventd are off, so no other block device of the host is ever read or
 *       changed and no state lands outside the configured directories;</li>
 *   <li>reports are JSON in bytes ({@link LvmReports}); one {@code fullreport} reads volume groups
 *       and logical volumes at once;</li>
 *   <li>{@code LVM_SUPPRESS_FD_WARNINGS=1} and {@code LC_ALL=C}, so stderr holds lvm's own
 *       messages, in English, which {@link #noSpace} and {@link #inUse} read.</li>
 * </ul>
 */
class LvmCli {

    private static final Logger LOG = LoggerFactory.getLogger(LvmCli.class);


    /** The first physical extent of a pool device starts on a huge-page boundary. */
    static final String DATA_ALIGNMENT = "2m";

    static final Map<String, String> ENVIRONMENT = Map.of(
            "DM_DISABLE_UDEV", "1",
            "LVM_SUPPRESS_FD_WARNINGS", "1",
            "LC_ALL", "C");

    private final CommandRunner runner;
    private final LvmConfig config;
    private final String configText;

    /** @param devices the pool devices, the only ones lvm may see */
    LvmCli(CommandRunner runner, LvmConfig config, List<String> devices) {
        this.runner = runner;
        this.config = config;
        this.configText = configText(config, devices);
    }

    /** The {@code --config} every command gets. */
    static String configText(LvmConfig config, List<String> devices) {
        if (devices.isEmpty()) {
            throw new IllegalArgumentException("lvm needs at least one pool device");
        }
        StringBuilder filter = new StringBuilder("[");
        for (String d : devices) {
            if (!LvmConfig.SAFE_PATH.matcher(d).matches() || d.length() < 2) {
                throw new IllegalArgumentException("pool device path " + d + " has characters other than"
                        + " letters, digits and /_.:+-");
            }
            filter.append("\"a|^").append(d.replace(".", "[.]").replace("+", "[+]")).append("$|\",");
        }
        filter.append("\"r|.*|\"]");
        StringBuilder c = new StringBuilder();
        c.append("devices{filter=").append(filter).append(" global_filter=").append(filter)
                .append(" obtain_device_list_from_udev=0 use_devicesfile=0 hints=\"none\" scan_lvs=0}");
        c.append(" activation{udev_sync=0 udev_rules=0 monitoring=0}");
        c.append(" global{locking_dir=").append(quoted(config.lockDir())).append(" use_lvmpolld=0")
                .append(config.activation() ? "" : " activation=0").append('}');
        if (config.backupDir() == null) {
            c.append(" backup{backup=0 archive=0}");
        } else {
            c.append(" backup{backup=1 backup_dir=").append(quoted(config.backupDir())).append(" archive=0}");
        }
        return c.toString();
    }

    /** A directory of {@link LvmConfig}, which checked that it needs no escaping. */
    private static String quoted(Path p) {
        return "\"" + p + "\"";
    }

    LvmConfig config() {
        return config;
    }

    // ---- reports

    List<LvmReports.PhysicalVolume> physicalVolumes() throws LvmException {
        String out = report("pvs", LvmReports.PV_FIELDS);
        return parse(out, "pvs", () -> LvmReports.physicalVolumes(out));
    }

    /** Volume groups and logical volumes in one {@code lvm fullreport}. */
    LvmReports.State state() throws LvmException {
        // pv and pvseg come with every fullreport; one field each keeps them small.
        String out = run("fullreport", "--reportformat", "json", "--units", "b", "--nosuffix",
                "--configreport", "vg", "-o", LvmReports.VG_FIELDS,
                "--configreport", "pv", "-o", "pv_name",
                "--configreport", "lv", "-o", LvmReports.LV_FIELDS,
                "--configreport", "pvseg", "-o", "pvseg_start",
                "--configreport", "seg", "-o", LvmReports.SEG_FIELDS).stdout();
        return parse(out, "fullreport", () -> LvmReports.state(out));
    }

    private String report(String command, String fields) throws LvmException {
        return run(command, "--reportformat", "json", "--units", "b", "--nosuffix", "-o", fields).stdout();
    }

    @FunctionalInterface
    private interface Parse<T> {
        T parse() throws JsonProcessingException;
    }

    private static <T> T parse(String out, String command, Parse<T> p) throws LvmException {
        try {
            return p.parse();
        } catch (JsonProcessingException e) {
            throw new LvmException(List.of("lvm", command), 0, "", "cannot read the report of lvm " + command + ": "
                    + e.getOriginalMessage() + "; it printed: " + abbreviate(out), e);
        }
    }

    // ---- changes

    /** Makes {@code device} a physical volume whose first extent is 2 MiB aligned; refuses a device with a signature. */
    void createPhysicalVolume(String device) throws LvmException {
        run("pvcreate", "--dataalignment", DATA_ALIGNMENT, device);
    }

    void createVolumeGroup(String vg, String device, long extentBytes, List<String> tags) throws LvmException {
        List<String> args = new ArrayList<>(List.of("--physicalextentsize", extentBytes + "b"));
        addTags(args, tags);
        args.add(vg);
        args.add(device);
        run("vgcreate", args);
    }

    /**
     * A linear volume of {@code bytes} (a multiple of the extent size) with its tags, in one
     * metadata change. {@code -Wn -Zn}: lvm neither looks for old signatures nor zeroes the first
     * 4 KiB; the driver wipes the first and last MiB itself ({@code VolumeEraser}), as in direct
     * mode, and erasing on delete is the driver's job too.
     */
    void createLogicalVolume(String vg, String lv, long bytes, List<String> tags) throws LvmException {
        List<String> args = new ArrayList<>(List.of("--type", "linear", "--name", lv, "--size", bytes + "b",
                "--wipesignatures", "n", "--zero", "n", "--activate", config.activation() ? "y" : "n"));
        addTags(args, tags);
        args.add(vg);
        run("lvcreate", args);
    }

    /** Adds and removes tags in one metadata change. */
    void changeTags(String fullName, List<String> add, List<String> delete) throws LvmException {
        List<String> args = new ArrayList<>();
        addTags(args, add);
        for (String t : delete) {
            args.add("--deltag");
            args.add(t);
        }
        if (args.isEmpty()) {
            return;
        }
        args.add(fullName);
        run("lvchange", args);
    }

    void activate(String fullName) throws LvmException {
        run("lvchange", "--activate", "y", fullName);
    }

    /** Grows the volume to {@code bytes} in place; the device grows while it is open or mounted. */
    void extend(String fullName, long bytes) throws LvmException {
        run("lvextend", "--size", bytes + "b", fullName);
    }

    /** Removes the volume; lvm refuses one that is open or mounted. */
    void remove(String fullName) throws LvmException {
        run("lvremove", "--yes", fullName);
    }

    // ---- failures

    /** lvm found too few free extents. */
    static boolean noSpace(LvmException e) {
        return e.stderr().toLowerCase(Locale.ROOT).contains("insufficient free");
    }

    /** lvm refused to make a volume because one of that name exists. */
    static boolean exists(LvmException e) {
        return e.stderr().toLowerCase(Locale.ROOT).contains("already exists");
    }

    /** lvm refused because the volume is open or mounted. */
    static boolean inUse(LvmException e) {
        String s = e.stderr().toLowerCase(Locale.ROOT);
        return s.contains("in use") || s.contains("open logical volume");
    }

    // ---- running

    private CommandRunner.Result run(String command, String... args) throws LvmException {
        return run(command, List.of(args));
    }

    private CommandRunner.Result run(String command, List<String> args) throws LvmException {
        List<String> argv = new ArrayList<>(List.of("lvm", command, "--config", configText));
        argv.addAll(args);
        String shown = "lvm " + command + " " + String.join(" ", args);
        long start = System.nanoTime();
        CommandRunner.Result r;
        try {
            r = runner.runAllowingFailure(argv, ENVIRONMENT, config.timeout());
        } catch (CommandFailedException e) {
            throw new LvmException(argv, -1, "", shown + ": " + e.getMessage(), e);
        }
        LOG.debug("{} exited {} after {} ms", shown, r.exitCode(), (System.nanoTime() - start) / 1_000_000);
        if (r.exitCode() != 0) {
            throw new LvmException(argv, r.exitCode(), r.stderr(), shown + " failed with exit code " + r.exitCode()
                    + (r.stderr().isBlank() ? "" : ": " + compact(r.stderr())), null);
        }
        return r;
    }

    private static void addTags(List<String> args, List<String> tags) {
        for (String t : tags) {
            args.add("--addtag");
            args.add(t);
        }
    }

    /** lvm indents every line and repeats warnings; one line reads better in a log and a gRPC status. */
    private static String compact(String stderr) {
        return abbreviate(String.join("; ", stderr.lines().map(String::strip).filter(l -> !l.isEmpty()).toList()));
    }

    private static String abbreviate(String s) {
        return s.length() <= 2000 ? s : s.substring(0, 2000) + " …";
    }
}
