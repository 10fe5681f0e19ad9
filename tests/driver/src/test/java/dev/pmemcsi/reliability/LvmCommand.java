package dev.pmemcsi.reliability;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The lvm backend's volume groups and logical volumes, read with the {@code lvm} CLI rather than
 * through the driver's own code, so that a leak check does not trust what it checks. It sees only
 * the pool devices and takes the driver's locks, as the driver's own lvm commands do.
 */
final class LvmCommand {

    /** A logical volume with its tags. */
    record Lv(String vg, String name, long sizeBytes, List<String> tags) {}

    /** A volume group with its tags. */
    record Vg(String name, long sizeBytes, long freeBytes, List<String> tags) {}

    private static final ObjectMapper JSON = new ObjectMapper();

    private LvmCommand() {}

    static List<Lv> lvs(Path lockDir) {
        List<Lv> out = new ArrayList<>();
        for (JsonNode n : report(lockDir, "lvs", "vg_name,lv_name,lv_size,lv_tags", "lv")) {
            out.add(new Lv(n.path("vg_name").asText(), n.path("lv_name").asText(), Long.parseLong(n.path("lv_size").asText()),
                    tags(n.path("lv_tags").asText())));
        }
        return out;
    }

    static List<Vg> vgs(Path lockDir) {
        List<Vg> out = new ArrayList<>();
        for (JsonNode n : report(lockDir, "vgs", "vg_name,vg_size,vg_free,vg_tags", "vg")) {
            out.add(new Vg(n.path("vg_name").asText(), Long.parseLong(n.path("vg_size").asText()),
                    Long.parseLong(n.path("vg_free").asText()), tags(n.path("vg_tags").asText())));
        }
        return out;
    }

    private static List<String> tags(String s) {
        return s.isEmpty() ? List.of() : Arrays.asList(s.split(","));
    }

    private static List<JsonNode> report(Path lockDir, String command, String fields, String kind) {
        StringBuilder filter = new StringBuilder("[");
        for (String d : BackendKind.lvmDevices()) {
            filter.append("\"a|^").append(d).append("$|\",");
        }
        filter.append("\"r|.*|\"]");
        String config = "devices{filter=" + filter + " global_filter=" + filter
                + " obtain_device_list_from_udev=0 use_devicesfile=0 hints=\"none\"}"
                + " activation{udev_sync=0 udev_rules=0} global{locking_dir=\"" + lockDir + "\"}";
        List<String> cmd = List.of("lvm", command, "--config", config, "--reportformat", "json", "--units", "b",
                "--nosuffix", "-o", fields);
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT);
            pb.environment().put("DM_DISABLE_UDEV", "1");
            pb.environment().put("LVM_SUPPRESS_FD_WARNINGS", "1");
            Process p = pb.start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new IllegalStateException(cmd + " failed");
            }
            List<JsonNode> rows = new ArrayList<>();
            for (JsonNode r : JSON.readTree(out).path("report")) {
                r.path(kind).forEach(rows::add);
            }
            return rows;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
