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

    @Test
    void aReportedRegionOffersOnlyItsLargestExtentAndTiesGoToTheFirstListed() {
        RegionLayout a = RegionLayout.reported("region0", 0, 8 * GIB, 16 * MIB, 6 * GIB, 4 * GIB, 2 * GIB);
        RegionLayout b = RegionLayout.reported("region1", 1, 8 * GIB, 32 * MIB, 4 * GIB, 2 * GIB, 4 * GIB);
        RegionLayout c = RegionLayout.reported("region2", 0, 8 * GIB, 16 * MIB, 2 * GIB, 2 * GIB, 6 * GIB);
        assertEquals("region1", RegionLayout.chooseRegion(List.of(a, b, c), GIB).orElseThrow().region());
        // The raw size depends on the region: in region1 it no longer fits, region2 is the tightest left.
        assertEquals("region2", RegionLayout.chooseRegion(List.of(a, b, c),
                r -> r.alignment() == 32 * MIB ? 3 * GIB : 2 * GIB).orElseThrow().region());
        assertTrue(RegionLayout.chooseRegion(List.of(a, b, c), 5 * GIB).isEmpty());
        assertTrue(a.bestFit(GIB).isEmpty(), "the kernel places namespaces in a reported region");
        assertEquals(new RegionCapacity("region0", 0, 16 * MIB, 8 * GIB, 6 * GIB, 4 * GIB, 2 * GIB), a.capacity());
    }
}

