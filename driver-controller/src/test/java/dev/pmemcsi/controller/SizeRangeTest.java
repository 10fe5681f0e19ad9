package dev.pmemcsi.controller;

import static dev.pmemcsi.controller.Fixture.GIB;
import static dev.pmemcsi.controller.Fixture.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.csi.v1.CapacityRange;
import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.RegionCapacity;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.driver.InvalidRequestException;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class SizeRangeTest {

    private static SizeRange range(long required, long limit) throws InvalidRequestException {
        return SizeRange.of(CapacityRange.newBuilder().setRequiredBytes(required).setLimitBytes(limit).build());
    }

    private static RegionCapacity region(long alignment) {
        return new RegionCapacity("r" + alignment, 0, alignment, 64 * GIB, 64 * GIB, 64 * GIB, 0);
    }

    @Test
    void rejectsNegativeAndInvertedRanges() {
        assertThrows(InvalidRequestException.class, () -> range(-1, 0));
        assertThrows(InvalidRequestException.class, () -> range(0, -5));
        assertThrows(InvalidRequestException.class, () -> range(2, 1));
    }

    @Test
    void admitsExactlyTheRange() throws Exception {
        SizeRange r = range(10, 20);
        assertFalse(r.admits(9));
        assertTrue(r.admits(10) && r.admits(20));
        assertFalse(r.admits(21));
        assertTrue(range(0, 0).admits(Long.MAX_VALUE));
        assertFalse(range(0, 0).admits(0), "a volume of no bytes satisfies nobody");
    }

    @Test
    void anExplicitMinimumIsPassedThrough() throws Exception {
        assertEquals(5 * GIB, range(5 * GIB, 6 * GIB).requiredForDevice(VolumeMode.FSDAX, List.of(region(16 * MIB))));
        assertEquals(0, range(0, 0).requiredForDevice(VolumeMode.FSDAX, List.of(region(16 * MIB))));
    }

    @Test
    void aLimitAloneYieldsAMinimumThatEveryRegionRoundsUpWithinTheLimit() throws Exception {
        Random random = new Random(7);
        List<RegionCapacity> regions = List.of(region(2 * MIB), region(16 * MIB), region(96 * MIB), region(128 * MIB));
        for (VolumeMode mode : VolumeMode.values()) {
            for (int i = 0; i < 2000; i++) {
                long limit = 200 * MIB + (long) (random.nextDouble() * 4 * GIB);
                long required = range(0, limit).requiredForDevice(mode, regions);
                assertTrue(required > 0 && required <= Math.min(limit, CapacityMath.DEFAULT_VOLUME_BYTES));
                for (RegionCapacity r : regions) {
                    long raw = CapacityMath.rawBytesFor(mode, required, r.alignment());
                    long usable = CapacityMath.usableBytes(mode, raw);
                    assertTrue(usable >= required && usable <= limit,
                            mode + " limit " + limit + " required " + required + " alignment " + r.alignment() + " usable " + usable);
                }
            }
        }
    }

    @Test
    void largestUsableWithinIsTheLargestOne() {
        long alignment = 16 * MIB;
        for (VolumeMode mode : VolumeMode.values()) {
            for (long limit = 20 * MIB; limit < 600 * MIB; limit += 7 * MIB + 4096) {
                long best = SizeRange.largestUsableWithin(mode, limit, alignment);
                assertTrue(best <= limit);
                long bigger = 0;
                for (long raw = alignment; raw < 2 * limit; raw += alignment) {
                    long u = CapacityMath.usableBytes(mode, raw);
                    if (u <= limit) {
                        bigger = Math.max(bigger, u);
                    }
                }
                assertEquals(bigger, best, mode + " limit " + limit);
            }
        }
    }
}
