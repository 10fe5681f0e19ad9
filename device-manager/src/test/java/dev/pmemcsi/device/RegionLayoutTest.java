package dev.pmemcsi.device;

import static dev.pmemcsi.device.CapacityMath.GIB;
import static dev.pmemcsi.device.CapacityMath.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class RegionLayoutTest {

    @Test
    void fragmentedRegionReportsSumAsAvailableAndLargestExtentAsMaximum() {
        // 128 GiB region: [63 GiB free][1 GiB used][64 GiB free]
        RegionLayout layout = new RegionLayout("region0", 128 * GIB, 16 * MIB, List.of(new Extent(63 * GIB, GIB)));
        assertEquals(127 * GIB, layout.availableBytes());
        assertEquals(64 * GIB, layout.maxExtentBytes());
        assertEquals(layout.size(), layout.allocatedBytes() + layout.availableBytes());
    }

    @Test
    void bestFitKeepsTheLargestExtentWhole() {
        RegionLayout layout = new RegionLayout("region0", 128 * GIB, 16 * MIB, List.of(new Extent(63 * GIB, GIB)));
        Extent placed = layout.bestFit(GIB).orElseThrow();
        assertEquals(0, placed.offset(), "the 63 GiB hole is the best fit");
        RegionLayout after = new RegionLayout("region0", 128 * GIB, 16 * MIB,
                List.of(new Extent(63 * GIB, GIB), placed));
        assertEquals(64 * GIB, after.maxExtentBytes());
    }

    @Test
    void nothingFitsWhenTheLargestExtentIsTooSmall() {
        RegionLayout layout = new RegionLayout("region0", 128 * GIB, 16 * MIB, List.of(new Extent(63 * GIB, GIB)));
        assertTrue(layout.bestFit(65 * GIB).isEmpty());
    }

    @Test
    void chooseRegionPrefersTheTightestRegion() {
        RegionLayout big = new RegionLayout("region0", 8 * GIB, 16 * MIB, List.of());
        RegionLayout small = new RegionLayout("region1", 8 * GIB, 16 * MIB, List.of(new Extent(0, 6 * GIB)));
        assertEquals("region1", RegionLayout.chooseRegion(List.of(big, small), GIB).orElseThrow().region());
        assertEquals("region0", RegionLayout.chooseRegion(List.of(big, small), 3 * GIB).orElseThrow().region());
    }

    @Test
    void overlappingExtentsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new RegionLayout("r", GIB, MIB,
                List.of(new Extent(0, 32 * MIB), new Extent(16 * MIB, 32 * MIB))));
    }
}
