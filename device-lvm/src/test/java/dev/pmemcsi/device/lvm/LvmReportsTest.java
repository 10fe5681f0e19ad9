package dev.pmemcsi.device.lvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The reports as lvm2 2.03.16 prints them (copied from its output), numbers and all as strings. */
class LvmReportsTest {

    @Test
    void physicalVolumesWithAndWithoutAGroup() throws Exception {
        String out = """
                  {
                      "report": [
                          {
                              "pv": [
                                  {"pv_name":"/dev/loop0", "pv_uuid":"JPaAks-jAbo-0E38-VW0o-V61W-XhKe-Ug1UkK", "dev_size":"268435456", "pv_size":"264241152", "pe_start":"2097152", "vg_name":"tvg", "vg_uuid":"mR8u2r-m0xZ-cq5F-QqbQ-cgrj-UiN5-icufIi", "vg_tags":"foo,pmem-csi.dev", "vg_size":"264241152", "vg_free":"222298112", "vg_extent_size":"4194304", "pv_missing":""},
                                  {"pv_name":"/dev/loop1", "pv_uuid":"x", "dev_size":"134217728", "pv_size":"132120576", "pe_start":"2097152", "vg_name":"", "vg_uuid":"", "vg_tags":""}
                              ]
                          }
                      ]
                  }
                """;
        List<LvmReports.PhysicalVolume> pvs = LvmReports.physicalVolumes(out);
        assertEquals(new LvmReports.PhysicalVolume("/dev/loop0", "JPaAks-jAbo-0E38-VW0o-V61W-XhKe-Ug1UkK", 268435456L,
                264241152L, 2097152L, "tvg", "mR8u2r-m0xZ-cq5F-QqbQ-cgrj-UiN5-icufIi", List.of("foo", "pmem-csi.dev")), pvs.get(0));
        assertFalse(pvs.get(0).isOrphan());
        assertTrue(pvs.get(1).isOrphan());
        assertEquals(List.of(), pvs.get(1).vgTags());
    }

    @Test
    void volumeGroups() throws Exception {
        String out = """
                {"report":[{"vg":[{"vg_name":"tvg", "vg_uuid":"u", "vg_tags":"foo", "vg_size":"264241152", "vg_free":"230686720",
                 "vg_extent_size":"4194304", "pv_count":"1", "vg_missing_pv_count":"0", "lv_count":"1"}]}]}
                """;
        assertEquals(List.of(new LvmReports.VolumeGroup("tvg", "u", List.of("foo"), 264241152L, 230686720L, 4194304L, 1, 0, 1)),
                LvmReports.volumeGroups(out));
    }

    @Test
    void logicalVolumesWithSeveralSegmentsAreOneVolume() throws Exception {
        String out = """
                  {
                      "report": [
                          {
                              "lv": [
                                  {"lv_name":"lv2", "vg_name":"tvg", "lv_uuid":"A", "lv_size":"33554432", "lv_tags":"x", "lv_attr":"-wi-a-----", "lv_dm_path":"/dev/mapper/tvg-lv2", "seg_pe_ranges":"/dev/loop0:8-15"},
                                  {"lv_name":"pmem.eph..abc", "vg_name":"tvg", "lv_uuid":"B", "lv_size":"67108864", "lv_tags":"pmem-csi.dev,pmem-csi.dev/id=eph--abc", "lv_attr":"-wi-------", "lv_dm_path":"/dev/mapper/tvg-pmem.eph..abc", "seg_pe_ranges":"/dev/loop0:0-7"},
                                  {"lv_name":"pmem.eph..abc", "vg_name":"tvg", "lv_uuid":"B", "lv_size":"67108864", "lv_tags":"pmem-csi.dev,pmem-csi.dev/id=eph--abc", "lv_attr":"-wi-------", "lv_dm_path":"/dev/mapper/tvg-pmem.eph..abc", "seg_pe_ranges":"/dev/loop0:16-23"}
                              ]
                          }
                      ]
                  }
                """;
        List<LvmReports.LogicalVolume> lvs = LvmReports.logicalVolumes(out);
        assertEquals(2, lvs.size());
        assertTrue(lvs.get(0).active());
        assertEquals("tvg/lv2", lvs.get(0).fullName());
        LvmReports.LogicalVolume b = lvs.get(1);
        assertFalse(b.active());
        assertEquals(67108864L, b.sizeBytes());
        assertEquals(List.of("pmem-csi.dev", "pmem-csi.dev/id=eph--abc"), b.tags());
        assertEquals(List.of("/dev/loop0:0-7", "/dev/loop0:16-23"), b.peRanges());
    }

    @Test
    void anEmptyListingAndUnreadableOutput() throws Exception {
        assertEquals(List.of(), LvmReports.logicalVolumes("  {\n \"report\": [ { \"lv\": [ ] } ] }\n"));
        assertThrows(JsonProcessingException.class, () -> LvmReports.logicalVolumes("  WARNING: something\n"));
        assertThrows(JsonProcessingException.class, () -> LvmReports.volumeGroups("{\"vg\":[]}"));
        JsonProcessingException e = assertThrows(JsonProcessingException.class, () -> LvmReports.volumeGroups(
                "{\"report\":[{\"vg\":[{\"vg_name\":\"v\",\"vg_size\":\"12.00m\"}]}]}"));
        assertEquals("field vg_size is not a number of bytes: \"12.00m\"", e.getOriginalMessage());
    }
}
