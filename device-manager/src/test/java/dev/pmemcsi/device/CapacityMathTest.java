package dev.pmemcsi.device;

import static dev.pmemcsi.device.CapacityMath.GIB;
import static dev.pmemcsi.device.CapacityMath.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class CapacityMathTest {

    /** Sizes of real fsdax namespaces (page map in PMEM, 2 MiB alignment) and their devices. */
    @ParameterizedTest
    @CsvSource({
        "16777216, 14680064",
        "67108864, 65011712",
        "268435456, 262144000",
        "536870912, 526385152",
        "1073741824, 1054867456",
        "2147483648, 2111832064",
        "3221225472, 3168796672",
    })
    void fsdaxUsableSizeMatchesRealNamespaces(long raw, long usable) {
        assertEquals(usable, CapacityMath.usableBytes(VolumeMode.FSDAX, raw));
    }

    @Test
    void sectorOverheadIsAnUpperBoundOfRealBtt() {
        // A real 256 MiB sector namespace offers 267091968 bytes.
        assertTrue(CapacityMath.usableBytes(VolumeMode.SECTOR, 256 * MIB) <= 267091968L);
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 4096, 14680064, 14680065, 1500 * GIB, 63 * GIB, 2 * GIB + 1})
    void rawSizeDeliversAtLeastTheRequestAndIsMinimal(long usable) {
        for (VolumeMode mode : VolumeMode.values()) {
            long raw = CapacityMath.rawBytesFor(mode, usable, 16 * MIB);
            assertEquals(0, raw % (16 * MIB));
            assertTrue(CapacityMath.usableBytes(mode, raw) >= usable, mode + " " + usable);
            assertTrue(raw == 16 * MIB || CapacityMath.usableBytes(mode, raw - 16 * MIB) < usable,
                    "one unit less would not do");
        }
    }

    @Test
    void fifteenHundredGibiBytesAreDelivered() {
        long raw = CapacityMath.rawBytesFor(VolumeMode.FSDAX, 1500 * GIB, 16 * MIB);
        assertTrue(CapacityMath.usableBytes(VolumeMode.FSDAX, raw) >= 1500 * GIB);
    }

    @ParameterizedTest
    @EnumSource(VolumeMode.class)
    void hugeRequestsDoNotOverflow(VolumeMode mode) {
        assertEquals(Long.MAX_VALUE, CapacityMath.rawBytesFor(mode, Long.MAX_VALUE, 16 * MIB));
        assertEquals(Long.MAX_VALUE, CapacityMath.rawBytesFor(mode, Long.MAX_VALUE / 2 + 1, 16 * MIB));
    }

    @Test
    void rounding() {
        assertEquals(16 * MIB, CapacityMath.roundUp(1, 16 * MIB));
        assertEquals(16 * MIB, CapacityMath.roundUp(16 * MIB, 16 * MIB));
        assertEquals(0, CapacityMath.alignDown(16 * MIB - 1, 16 * MIB));
        assertEquals(Long.MAX_VALUE, CapacityMath.roundUp(Long.MAX_VALUE - 1, 16 * MIB));
        assertEquals(96 * MIB, CapacityMath.lcm(32 * MIB, 96 * MIB));
    }

    @Test
    void volumeIdsFitANamespaceName() {
        String id = VolumeIds.fromName("pvc-" + "x".repeat(500) + "名前");
        assertTrue(id.length() <= VolumeIds.MAX_LENGTH);
        assertTrue(VolumeIds.isValid(id));
        assertTrue(VolumeIds.isValid(VolumeIds.fromName("名前")));
        assertEquals(VolumeIds.fromName("a"), VolumeIds.fromName("a"));
        assertTrue(!VolumeIds.fromName("a").equals(VolumeIds.fromName("b")));
    }
}
