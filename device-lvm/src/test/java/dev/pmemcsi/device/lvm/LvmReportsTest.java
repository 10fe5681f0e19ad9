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
    void aFullReportHasEveryVolumeGroupAndItsVolumesWithTheirRanges() throws Exception {
        // As lvm 2.03.16 prints it: one report per volume group, also for one without volumes.
        String out = """
                  {
                      "report": [
                          {
                              "vg": [
                                  {"vg_name":"vb", "vg_uuid":"OKQf", "vg_tags":"", "vg_size":"130023424", "vg_free":"130023424", "vg_extent_size":"4194304", "pv_count":"1", "vg_missing_pv_count":"0", "lv_count":"0"}
                              ]
                              ,
                              "pv": [
                                  {"pv_name":"/dev/loop1"}
                              ]
                              ,
                              "lv": [
                              ]
                              ,
                              "pvseg": [
                                  {"pvseg_start":"0"}
                              ]
                              ,
                              "seg": [
                              ]
                          }
                          ,
                          {
                              "vg": [
                                  {"vg_name":"va", "vg_uuid":"VlJf", "vg_tags":"pmem-csi.dev", "vg_size":"130023424", "vg_free":"96468992", "vg_extent_size":"4194304", "pv_count":"1", "vg_missing_pv_count":"0", "lv_count":"2"}
                              ]
                              ,
                              "pv": [
                                  {"pv_name":"/dev/loop0"}
                              ]
                              ,
                              "lv": [
                                  {"lv_name":"l1", "vg_name":"va", "lv_uuid":"A", "lv_size":"16777216", "lv_tags":"pmem-csi.dev,pmem-csi.dev/id=eph--abc", "lv_attr":"-wi-a-----", "lv_dm_path":"/dev/mapper/va-l1"},
                                  {"lv_name":"l2", "vg_name":"va", "lv_uuid":"B", "lv_size":"8388608", "lv_tags":"", "lv_attr":"-wi-------", "lv_dm_path":"/dev/mapper/va-l2"}
                              ]
                              ,
                              "pvseg": [
                                  {"pvseg_start":"0"},
                                  {"pvseg_start":"2"},
                                  {"pvseg_start":"4"}
                              ]
                              ,
                              "seg": [
                                  {"lv_uuid":"A", "seg_pe_ranges":"/dev/loop0:0-1"},
                                  {"lv_uuid":"B", "seg_pe_ranges":"/dev/loop0:2-3"},
                                  {"lv_uuid":"A", "seg_pe_ranges":"/dev/loop0:6-7"}
                              ]
                          }
                      ]
                  }
                """;
        LvmReports.State state = LvmReports.state(out);
        assertEquals(List.of(new LvmReports.VolumeGroup("vb", "OKQf", List.of(), 130023424L, 130023424L, 4194304L, 1, 0, 0),
                new LvmReports.VolumeGroup("va", "VlJf", List.of("pmem-csi.dev"), 130023424L, 96468992L, 4194304L, 1, 0, 2)),
                state.groups());
        assertEquals(2, state.volumes().size());
        LvmReports.LogicalVolume a = state.volumes().get(0);
        assertEquals(new LvmReports.LogicalVolume("l1", "va", "A", 16777216L, List.of("pmem-csi.dev", "pmem-csi.dev/id=eph--abc"),
                "-wi-a-----", "/dev/mapper/va-l1", List.of("/dev/loop0:0-1", "/dev/loop0:6-7")), a);
        assertTrue(a.active());
        assertEquals("va/l1", a.fullName());
        assertFalse(state.volumes().get(1).active());
        assertEquals(List.of("/dev/loop0:2-3"), state.volumes().get(1).peRanges());
    }

    @Test
    void anEmptyListingAndUnreadableOutput() throws Exception {
        assertEquals(new LvmReports.State(List.of(), List.of()), LvmReports.state("  {\n \"report\": [ ] }\n"));
        assertEquals(List.of(), LvmReports.physicalVolumes("{\"report\":[{\"pv\":[]}]}"));
        assertThrows(JsonProcessingException.class, () -> LvmReports.state("  WARNING: something\n"));
        assertThrows(JsonProcessingException.class, () -> LvmReports.state("{\"vg\":[]}"));
        JsonProcessingException e = assertThrows(JsonProcessingException.class, () -> LvmReports.state(
                "{\"report\":[{\"vg\":[{\"vg_name\":\"v\",\"vg_size\":\"12.00m\"}]}]}"));
        assertEquals("field vg_size is not a number of bytes: \"12.00m\"", e.getOriginalMessage());
    }

    @Test
    void fieldsLvmAddsAreIgnoredAndNullOrBareValuesRead() throws Exception {
        String json = "{\"report\":[{\"vg\":[{\"vg_name\":\"v\",\"vg_uuid\":null,\"vg_size\":4096,\"vg_free\":\" 1024 \","
                + "\"vg_permissions\":\"writeable\",\"vg_extent_size\":\"\",\"pv_count\":\"1\"}],\"lv\":[],"
                + "\"pvseg\":[{\"pvseg_start\":\"0\"}]}],\"log\":[{\"log_seq_num\":\"1\"}]}";
        LvmReports.State state = LvmReports.state(json);
        assertEquals(List.of(new LvmReports.VolumeGroup("v", "", List.of(), 4096, 1024, 0, 1, 0, 0)), state.groups());
        assertThrows(JsonProcessingException.class, () -> LvmReports.state(json.substring(0, json.length() / 2)));
        assertThrows(JsonProcessingException.class, () -> LvmReports.state(""));
    }
}
