package dev.pmemcsi.device.lvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.VolumeHealth;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LvmHealthTest {

    private static final long MIB = 1024 * 1024;

    private static LvmReports.LogicalVolume lv(String attr) {
        return new LvmReports.LogicalVolume("lv", "vg", "u", 8 * MIB, List.of(), attr, "/dev/mapper/vg-lv",
                List.of("/dev/pmem0:0-1"));
    }

    @Test
    void attributesTellWhatIsWrong() {
        assertEquals(VolumeHealth.ok(), LvmHealth.of(lv("-wi-a-----"), 0, true));
        assertEquals(VolumeHealth.ok(), LvmHealth.of(lv("-wi-ao----"), 0, true));
        VolumeHealth partial = LvmHealth.of(lv("-wi-a---p-"), 0, true);
        assertTrue(partial.abnormal());
        assertTrue(partial.message().contains("is missing"), partial.message());
        assertEquals("logical volume vg/lv is not active", LvmHealth.of(lv("-wi-------"), 0, true).message());
        assertEquals("logical volume vg/lv is suspended", LvmHealth.of(lv("-wi-s-----"), 0, true).message());
        assertEquals("device /dev/mapper/vg-lv of logical volume vg/lv has disappeared",
                LvmHealth.of(lv("-wi-a-----"), 0, false).message());
        VolumeHealth bad = LvmHealth.of(lv("-wi-a-----"), 3, true);
        assertEquals(new VolumeHealth(true, "3 bad 512-byte blocks in logical volume vg/lv", 3), bad);
    }

    @Test
    void badBlocksCountOnlyInsideTheVolumesExtents(@TempDir Path sys) throws Exception {
        Path dir = Files.createDirectories(sys.resolve("class/block/pmem0"));
        // Sectors of 512 bytes: data starts at 2 MiB (sector 4096), extents are 4 MiB (8192 sectors).
        Files.writeString(dir.resolve("badblocks"), "100 8\n4096 2\n20470 20\n");
        List<LvmHealth.BadRange> bad = LvmHealth.badBlocks(sys, "pmem0");
        assertEquals(30, LvmHealth.total(bad));
        // Extents 0-1 are sectors [4096, 20480): 2 + 10 of the last run.
        assertEquals(12, LvmHealth.badSectorsIn(List.of("/dev/pmem0:0-1"), "/dev/pmem0", 2 * MIB, 4 * MIB, bad));
        assertEquals(10, LvmHealth.badSectorsIn(List.of("/dev/pmem0:2-2"), "/dev/pmem0", 2 * MIB, 4 * MIB, bad));
        assertEquals(0, LvmHealth.badSectorsIn(List.of("/dev/pmem1:0-1"), "/dev/pmem0", 2 * MIB, 4 * MIB, bad));
        assertEquals(List.of(), LvmHealth.badBlocks(sys, "pmem9"));
        assertFalse(LvmHealth.of(lv("-wi-a-----"), 0, true).abnormal());
    }
}
