package dev.pmemcsi.controller;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.csi.v1.CapacityRange;
import dev.pmemcsi.driver.InvalidRequestException;
import org.junit.jupiter.api.Test;

class SizeRangeTest {

    private static SizeRange range(long required, long limit) throws InvalidRequestException {
        return SizeRange.of(CapacityRange.newBuilder().setRequiredBytes(required).setLimitBytes(limit).build());
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
}
