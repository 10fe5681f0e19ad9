package dev.pmemcsi.device.lvm;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pmemcsi.pmemnative.CommandRunner;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * lvm2 in memory, behind the {@link CommandRunner} the driver runs {@code lvm} with: enough of
 * pvs, vgs, lvs, pvcreate, vgcreate, lvcreate, lvchange, lvextend and lvremove, with their JSON
 * reports and exit codes, to test what the driver asks lvm and what it makes of the answers.
 */
class FakeLvm extends CommandRunner {

    static final long MIB = 1024 * 1024;
    static final long PE_START = 2 * MIB;
    private static final ObjectMapper JSON = new ObjectMapper();

    static final class Pv {
        final String device;
        final long size;
        String vg = "";
        /** A signature on a device that is no physical volume: pvcreate refuses it. */
        boolean signature;
        boolean isPv;

        Pv(String device, long size) {
            this.device = device;
            this.size = size;
        }
    }

    static final class Vg {
        final String name;
        final String pv;
        final long extent;
        final long size;
        final List<String> tags = new ArrayList<>();

        Vg(String name, String pv, long extent, long size) {
            this.name = name;
            this.pv = pv;
            this.extent = extent;
            this.size = size;
        }
    }

    static final class Lv {
        final String name;
        final String vg;
        long size;
        final List<String> tags = new ArrayList<>();
        boolean active = true;
        /** Open or mounted: lvremove refuses it. */
        boolean open;

        Lv(String name, String vg, long size) {
            this.name = name;
            this.vg = vg;
            this.size = size;
        }

        String full() {
            return vg + "/" + name;
        }
    }

    /** One command as the driver ran it, without lvm's --config. */
    record Call(String command, List<String> args, Map<String, String> environment, String config) {}

    final Map<String, Pv> pvs = new LinkedHashMap<>();
    final Map<String, Vg> vgs = new TreeMap<>();
    final Map<String, Lv> lvs = new TreeMap<>();
    final List<Call> calls = new ArrayList<>();
    private final List<Failure> failures = new ArrayList<>();

    private record Failure(Predicate<Call> when, int exit, String stderr) {}

    FakeLvm device(String path, long size) {
        pvs.put(path, new Pv(path, size));
        return this;
    }

    /** The next call {@code when} matches fails with this exit code and stderr (once). */
    void failNext(Predicate<Call> when, int exit, String stderr) {
        failures.add(new Failure(when, exit, stderr));
    }

    List<String> commands() {
        return calls.stream().map(Call::command).toList();
    }

    /** The calls that change something: all but the reports. */
    List<Call> changes() {
        return calls.stream().filter(c -> !c.command().equals("pvs") && !c.command().equals("fullreport")).toList();
    }

    long free(Vg vg) {
        return vg.size - lvs.values().stream().filter(l -> l.vg.equals(vg.name)).mapToLong(l -> l.size).sum();
    }

    @Override
    public Result runAllowingFailure(List<String> argv, Map<String, String> environment, Duration timeout) {
        if (!argv.get(0).equals("lvm") || !argv.get(2).equals("--config")) {
            throw new AssertionError("not an lvm command with --config: " + argv);
        }
        Call call = new Call(argv.get(1), List.copyOf(argv.subList(4, argv.size())), Map.copyOf(environment), argv.get(3));
        calls.add(call);
        for (Failure f : failures) {
            if (f.when().test(call)) {
                failures.remove(f);
                return new Result(f.exit(), "", f.stderr());
            }
        }
        try {
            return switch (call.command()) {
                case "pvs" -> ok(report("pv", pvRows()));
                case "fullreport" -> ok(fullReport());
                case "pvcreate" -> pvcreate(call.args());
                case "vgcreate" -> vgcreate(call.args());
                case "lvcreate" -> lvcreate(call.args());
                case "lvchange" -> lvchange(call.args());
                case "lvextend" -> lvextend(call.args());
                case "lvremove" -> lvremove(call.args());
                default -> new Result(3, "", "  unknown command " + call.command());
            };
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static Result ok(String out) {
        return new Result(0, out, "");
    }

    private String report(String kind, ArrayNode rows) throws Exception {
        ObjectNode root = JSON.createObjectNode();
        root.putArray("report").addObject().set(kind, rows);
        return "  " + JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n";
    }

    private ArrayNode pvRows() {
        ArrayNode rows = JSON.createArrayNode();
        for (Pv p : pvs.values()) {
            if (!p.isPv) {
                continue;
            }
            Vg vg = vgs.get(p.vg);
            ObjectNode n = rows.addObject();
            n.put("pv_name", p.device).put("pv_uuid", "uuid-" + p.device).put("dev_size", "" + p.size)
                    .put("pv_size", "" + (vg == null ? p.size - PE_START : vg.size)).put("pe_start", "" + PE_START)
                    .put("vg_name", p.vg).put("vg_uuid", vg == null ? "" : "uuid-" + vg.name)
                    .put("vg_tags", vg == null ? "" : String.join(",", vg.tags));
        }
        return rows;
    }

    /** As {@code lvm fullreport} prints it: one report per volume group, with its vg, pv, lv, pvseg and seg rows. */
    private String fullReport() throws Exception {
        ObjectNode root = JSON.createObjectNode();
        ArrayNode reports = root.putArray("report");
        for (Vg vg : vgs.values()) {
            ObjectNode r = reports.addObject();
            r.putArray("vg").addObject().put("vg_name", vg.name).put("vg_uuid", "uuid-" + vg.name)
                    .put("vg_tags", String.join(",", vg.tags)).put("vg_size", "" + vg.size)
                    .put("vg_free", "" + free(vg)).put("vg_extent_size", "" + vg.extent).put("pv_count", "1")
                    .put("vg_missing_pv_count", "0")
                    .put("lv_count", "" + lvs.values().stream().filter(l -> l.vg.equals(vg.name)).count());
            r.putArray("pv").addObject().put("pv_name", vg.pv);
            ArrayNode lvRows = r.putArray("lv");
            r.putArray("pvseg").addObject().put("pvseg_start", "0");
            ArrayNode segs = r.putArray("seg");
            long next = 0;
            for (Lv l : lvs.values()) {
                if (!l.vg.equals(vg.name)) {
                    continue;
                }
                lvRows.addObject().put("lv_name", l.name).put("vg_name", l.vg).put("lv_uuid", "uuid-" + l.full())
                        .put("lv_size", "" + l.size).put("lv_tags", String.join(",", l.tags))
                        .put("lv_attr", l.active ? "-wi-a" + (l.open ? "o" : "-") + "----" : "-wi-------")
                        .put("lv_dm_path", "/dev/mapper/" + l.vg.replace("-", "--") + "-" + l.name.replace("-", "--"));
                long extents = l.size / vg.extent;
                segs.addObject().put("lv_uuid", "uuid-" + l.full())
                        .put("seg_pe_ranges", vg.pv + ":" + next + "-" + (next + extents - 1));
                next += extents;
            }
        }
        return "  " + JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n";
    }

    private Result pvcreate(List<String> args) {
        String dev = args.get(args.size() - 1);
        Pv p = pvs.get(dev);
        if (p == null) {
            return new Result(5, "", "  No device found for " + dev + ".");
        }
        if (p.isPv) {
            return new Result(5, "", "  Can't initialize physical volume \"" + dev + "\" of volume group \"" + p.vg
                    + "\" without -ff");
        }
        if (p.signature) {
            return new Result(5, "", "WARNING: ext4 signature detected on " + dev + " at offset 1080. Wipe it? [y/n]: [n]\n"
                    + "  Aborted wiping of ext4.\n  1 existing signature left on the device.");
        }
        p.isPv = true;
        return ok("  Physical volume \"" + dev + "\" successfully created.\n");
    }

    private Result vgcreate(List<String> args) {
        long extent = bytes(value(args, "--physicalextentsize"));
        String name = args.get(args.size() - 2);
        String dev = args.get(args.size() - 1);
        if (vgs.containsKey(name)) {
            return new Result(5, "", "  A volume group called " + name + " already exists.");
        }
        Pv p = pvs.get(dev);
        p.isPv = true;
        p.vg = name;
        Vg vg = new Vg(name, dev, extent, (p.size - PE_START) / extent * extent);
        vg.tags.addAll(values(args, "--addtag"));
        vgs.put(name, vg);
        return ok("  Volume group \"" + name + "\" successfully created\n");
    }

    private Result lvcreate(List<String> args) {
        String name = value(args, "--name");
        long size = bytes(value(args, "--size"));
        String vgName = args.get(args.size() - 1);
        Vg vg = vgs.get(vgName);
        if (vg == null) {
            return new Result(5, "", "  Volume group \"" + vgName + "\" not found");
        }
        if (lvs.containsKey(vgName + "/" + name)) {
            return new Result(5, "", "  Logical Volume \"" + name + "\" already exists in volume group \"" + vgName + "\"");
        }
        if (size % vg.extent != 0) {
            throw new AssertionError("size " + size + " is no multiple of the extent");
        }
        if (size > free(vg)) {
            return new Result(5, "", "  Volume group \"" + vgName + "\" has insufficient free space (" + free(vg) / vg.extent
                    + " extents): " + size / vg.extent + " required.");
        }
        Lv l = new Lv(name, vgName, size);
        l.tags.addAll(values(args, "--addtag"));
        l.active = "y".equals(value(args, "--activate"));
        lvs.put(l.full(), l);
        return ok("  Logical volume \"" + name + "\" created.\n");
    }

    private Result lvchange(List<String> args) {
        Lv l = lvs.get(args.get(args.size() - 1));
        if (l == null) {
            return new Result(5, "", "  Failed to find logical volume \"" + args.get(args.size() - 1) + "\"");
        }
        if ("y".equals(value(args, "--activate"))) {
            l.active = true;
        }
        for (String t : values(args, "--addtag")) {
            if (!l.tags.contains(t)) {
                l.tags.add(t);
            }
        }
        l.tags.removeAll(values(args, "--deltag"));
        l.tags.sort(null);
        return ok("  Logical volume " + l.full() + " changed.\n");
    }

    private Result lvextend(List<String> args) {
        Lv l = lvs.get(args.get(args.size() - 1));
        long size = bytes(value(args, "--size"));
        Vg vg = vgs.get(l.vg);
        if (size - l.size > free(vg)) {
            return new Result(5, "", "  Insufficient free space: " + (size - l.size) / vg.extent + " extents needed, but only "
                    + free(vg) / vg.extent + " available");
        }
        l.size = size;
        return ok("  Logical volume " + l.full() + " successfully resized.\n");
    }

    private Result lvremove(List<String> args) {
        Lv l = lvs.get(args.get(args.size() - 1));
        if (l == null) {
            return new Result(5, "", "  Failed to find logical volume \"" + args.get(args.size() - 1) + "\"");
        }
        if (l.open) {
            return new Result(5, "", "  Logical volume " + l.full() + " contains a filesystem in use.");
        }
        lvs.remove(l.full());
        return ok("  Logical volume \"" + l.name + "\" successfully removed.\n");
    }

    static String value(List<String> args, String option) {
        int i = args.indexOf(option);
        return i < 0 ? null : args.get(i + 1);
    }

    static List<String> values(List<String> args, String option) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < args.size() - 1; i++) {
            if (args.get(i).equals(option)) {
                out.add(args.get(i + 1));
            }
        }
        return out;
    }

    private static long bytes(String size) {
        if (!size.endsWith("b")) {
            throw new AssertionError("sizes go to lvm in bytes: " + size);
        }
        return Long.parseLong(size.substring(0, size.length() - 1));
    }
}
