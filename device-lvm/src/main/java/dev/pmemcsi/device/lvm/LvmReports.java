package dev.pmemcsi.device.lvm;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.pmemcsi.device.JsonRecord;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * lvm2's JSON reports ({@code --reportformat json --units b --nosuffix}) read into records. Every
 * value comes as a string, numbers included; a field that does not apply (the volume group of an
 * orphan physical volume) is the empty string, read here as 0 or an empty list. The output is
 * read as plain maps and lists ({@link JsonRecord#parseValue}); fields lvm adds are ignored.
 */
final class LvmReports {

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
     * @param peRanges where its extents lie, one entry per range, e.g. {@code /dev/pmem0:8-15}
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

    /**
     * The volume groups and logical volumes lvm sees, from one {@code lvm fullreport}: one process
     * instead of a {@code vgs} and an {@code lvs}, and one consistent view of both.
     */
    record State(List<VolumeGroup> groups, List<LogicalVolume> volumes) {
        State {
            groups = List.copyOf(groups);
            volumes = List.copyOf(volumes);
        }
    }

    static final String PV_FIELDS = "pv_name,pv_uuid,dev_size,pv_size,pe_start,vg_name,vg_uuid,vg_tags";
    static final String VG_FIELDS = "vg_name,vg_uuid,vg_tags,vg_size,vg_free,vg_extent_size,pv_count,vg_missing_pv_count,lv_count";
    static final String LV_FIELDS = "lv_name,vg_name,lv_uuid,lv_size,lv_tags,lv_attr,lv_dm_path";
    static final String SEG_FIELDS = "lv_uuid,seg_pe_ranges";

    private LvmReports() {}

    static List<PhysicalVolume> physicalVolumes(String json) throws JsonProcessingException {
        List<PhysicalVolume> out = new ArrayList<>();
        for (Map<?, ?> n : rows(json, "pv")) {
            out.add(new PhysicalVolume(text(n, "pv_name"), text(n, "pv_uuid"), number(n, "dev_size"),
                    number(n, "pv_size"), number(n, "pe_start"), text(n, "vg_name"), text(n, "vg_uuid"),
                    list(n, "vg_tags")));
        }
        return out;
    }

    /**
     * A {@code fullreport}: per volume group one report with its {@code vg} row, its {@code lv}
     * rows and its {@code seg} rows, which name their volume by UUID; the extent ranges of each
     * volume are kept in segment order.
     */
    static State state(String json) throws JsonProcessingException {
        List<VolumeGroup> groups = new ArrayList<>();
        List<LogicalVolume> volumes = new ArrayList<>();
        for (Map<?, ?> report : reports(json)) {
            for (Map<?, ?> n : objects(report.get("vg"))) {
                groups.add(new VolumeGroup(text(n, "vg_name"), text(n, "vg_uuid"), list(n, "vg_tags"), number(n, "vg_size"),
                        number(n, "vg_free"), number(n, "vg_extent_size"), (int) number(n, "pv_count"),
                        (int) number(n, "vg_missing_pv_count"), (int) number(n, "lv_count")));
            }
            Map<String, List<String>> ranges = new HashMap<>();
            for (Map<?, ?> n : objects(report.get("seg"))) {
                List<String> r = ranges.computeIfAbsent(text(n, "lv_uuid"), k -> new ArrayList<>());
                Arrays.stream(text(n, "seg_pe_ranges").split(" ")).filter(x -> !x.isEmpty()).forEach(r::add);
            }
            for (Map<?, ?> n : objects(report.get("lv"))) {
                volumes.add(new LogicalVolume(text(n, "lv_name"), text(n, "vg_name"), text(n, "lv_uuid"),
                        number(n, "lv_size"), list(n, "lv_tags"), text(n, "lv_attr"), text(n, "lv_dm_path"),
                        ranges.getOrDefault(text(n, "lv_uuid"), List.of())));
            }
        }
        return new State(groups, volumes);
    }

    /** The rows of every report of {@code kind} in the output: {@code {"report":[{"pv":[…]}, …]}}. */
    private static List<Map<?, ?>> rows(String json, String kind) throws JsonProcessingException {
        List<Map<?, ?>> out = new ArrayList<>();
        for (Map<?, ?> report : reports(json)) {
            out.addAll(objects(report.get(kind)));
        }
        return out;
    }

    private static List<Map<?, ?>> reports(String json) throws JsonProcessingException {
        Object root = JsonRecord.parseValue(json);
        Object reports = root instanceof Map<?, ?> m ? m.get("report") : null;
        if (!(reports instanceof List)) {
            throw new JsonProcessingException("no \"report\" array in lvm's output") { };
        }
        return objects(reports);
    }

    /** The objects in a list; anything else (absent, not a list, not objects) holds no rows. */
    private static List<Map<?, ?>> objects(Object list) {
        List<Map<?, ?>> out = new ArrayList<>();
        if (list instanceof List<?> l) {
            for (Object o : l) {
                if (o instanceof Map<?, ?> m) {
                    out.add(m);
                }
            }
        }
        return out;
    }

    /** A field as text: lvm quotes every value, but a bare number or flag reads as its literal too. */
    private static String text(Map<?, ?> n, String field) {
        Object v = n.get(field);
        return v instanceof String || v instanceof Number || v instanceof Boolean ? v.toString().strip() : "";
    }

    private static long number(Map<?, ?> n, String field) throws JsonProcessingException {
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

    private static List<String> list(Map<?, ?> n, String field) {
        String t = text(n, field);
        return t.isEmpty() ? List.of() : Arrays.stream(t.split(",")).map(String::strip).filter(s -> !s.isEmpty()).toList();
    }
}
