package dev.pmemcsi.device.lvm;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * lvm2's JSON reports ({@code --reportformat json --units b --nosuffix}) read into records. Every
 * value comes as a string, numbers included; a field that does not apply (the volume group of an
 * orphan physical volume) is the empty string, read here as 0 or an empty list.
 */
final class LvmReports {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** A physical volume, with the volume group it belongs to (empty names for an orphan). */
    record PhysicalVolume(String device, String uuid, long deviceBytes, long pvBytes, long peStart,
                          String vgName, String vgUuid, List<String> vgTags) {
        PhysicalVolume {
            vgTags = List.copyOf(vgTags);
        }

        boolean isOrphan() {
            return vgName.isEmpty();
        }
    }

    /** A volume group and its space in bytes. */
    record VolumeGroup(String name, String uuid, List<String> tags, long sizeBytes, long freeBytes, long extentBytes,
                       int pvCount, int missingPvCount, int lvCount) {
        VolumeGroup {
            tags = List.copyOf(tags);
        }
    }

    /**
     * A logical volume.
     *
     * @param attr   lvm's ten attribute characters, e.g. {@code -wi-a-----}: state at 4, health at 8
     * @param dmPath its device-mapper node, e.g. {@code /dev/mapper/vg-lv}
     * @param peRanges where its extents lie, one entry per segment, e.g. {@code /dev/pmem0:8-15}
     */
    record LogicalVolume(String name, String vgName, String uuid, long sizeBytes, List<String> tags, String attr,
                         String dmPath, List<String> peRanges) {
        LogicalVolume {
            tags = List.copyOf(tags);
            peRanges = List.copyOf(peRanges);
        }

        boolean active() {
            return attr.length() > 4 && attr.charAt(4) == 'a';
        }

        /** {@code vg/lv}, the way lvm commands name it. */
        String fullName() {
            return vgName + "/" + name;
        }
    }

    static final String PV_FIELDS = "pv_name,pv_uuid,dev_size,pv_size,pe_start,vg_name,vg_uuid,vg_tags";
    static final String VG_FIELDS = "vg_name,vg_uuid,vg_tags,vg_size,vg_free,vg_extent_size,pv_count,vg_missing_pv_count,lv_count";
    static final String LV_FIELDS = "lv_name,vg_name,lv_uuid,lv_size,lv_tags,lv_attr,lv_dm_path,seg_pe_ranges";

    private LvmReports() {}

    static List<PhysicalVolume> physicalVolumes(String json) throws JsonProcessingException {
        List<PhysicalVolume> out = new ArrayList<>();
        for (JsonNode n : rows(json, "pv")) {
            out.add(new PhysicalVolume(text(n, "pv_name"), text(n, "pv_uuid"), number(n, "dev_size"),
                    number(n, "pv_size"), number(n, "pe_start"), text(n, "vg_name"), text(n, "vg_uuid"),
                    list(n, "vg_tags")));
        }
        return out;
    }

    static List<VolumeGroup> volumeGroups(String json) throws JsonProcessingException {
        List<VolumeGroup> out = new ArrayList<>();
        for (JsonNode n : rows(json, "vg")) {
            out.add(new VolumeGroup(text(n, "vg_name"), text(n, "vg_uuid"), list(n, "vg_tags"), number(n, "vg_size"),
                    number(n, "vg_free"), number(n, "vg_extent_size"), (int) number(n, "pv_count"),
                    (int) number(n, "vg_missing_pv_count"), (int) number(n, "lv_count")));
        }
        return out;
    }

    /**
     * Logical volumes. Asking for a segment field makes lvm print one row per segment; the rows of
     * one volume (same UUID) are merged here, their extent ranges kept in order.
     */
    static List<LogicalVolume> logicalVolumes(String json) throws JsonProcessingException {
        List<LogicalVolume> out = new ArrayList<>();
        for (JsonNode n : rows(json, "lv")) {
            String uuid = text(n, "lv_uuid");
            List<String> ranges = Arrays.stream(text(n, "seg_pe_ranges").split(" ")).filter(s -> !s.isEmpty()).toList();
            LogicalVolume last = out.isEmpty() ? null : out.get(out.size() - 1);
            if (last != null && !uuid.isEmpty() && last.uuid().equals(uuid)) {
                List<String> merged = new ArrayList<>(last.peRanges());
                merged.addAll(ranges);
                out.set(out.size() - 1, new LogicalVolume(last.name(), last.vgName(), uuid, last.sizeBytes(), last.tags(),
                        last.attr(), last.dmPath(), merged));
                continue;
            }
            out.add(new LogicalVolume(text(n, "lv_name"), text(n, "vg_name"), uuid, number(n, "lv_size"),
                    list(n, "lv_tags"), text(n, "lv_attr"), text(n, "lv_dm_path"), ranges));
        }
        return out;
    }

    /** The rows of every report of {@code kind} in the output: {@code {"report":[{"lv":[…]}, …]}}. */
    private static List<JsonNode> rows(String json, String kind) throws JsonProcessingException {
        JsonNode root = JSON.readTree(json);
        JsonNode reports = root == null ? null : root.get("report");
        if (reports == null || !reports.isArray()) {
            throw new JsonProcessingException("no \"report\" array in lvm's output") { };
        }
        List<JsonNode> out = new ArrayList<>();
        for (JsonNode report : reports) {
            JsonNode rows = report.get(kind);
            if (rows != null) {
                rows.forEach(out::add);
            }
        }
        return out;
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        return v == null || v.isNull() ? "" : v.asText().strip();
    }

    private static long number(JsonNode n, String field) throws JsonProcessingException {
        String t = text(n, field);
        if (t.isEmpty()) {
            return 0;
        }
        try {
            return Long.parseLong(t);
        } catch (NumberFormatException e) {
            throw new JsonProcessingException("field " + field + " is not a number of bytes: \"" + t + "\"") { };
        }
    }

    private static List<String> list(JsonNode n, String field) {
        String t = text(n, field);
        return t.isEmpty() ? List.of() : Arrays.stream(t.split(",")).map(String::strip).filter(s -> !s.isEmpty()).toList();
    }
}
