package dev.pmemcsi.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class QuantityTest {

    private static final long MIB = 1L << 20;
    private static final long GIB = 1L << 30;

    @Test
    void binaryDecimalAndExponentSuffixes() {
        assertEquals(4 * GIB, Quantity.parseBytes("4Gi"));
        assertEquals(512 * MIB, Quantity.parseBytes("512Mi"));
        assertEquals(1536 * MIB, Quantity.parseBytes("1.5Gi"));
        assertEquals(2L << 40, Quantity.parseBytes("2Ti"));
        assertEquals(1_000_000_000L, Quantity.parseBytes("1G"));
        assertEquals(500_000_000L, Quantity.parseBytes("500M"));
        assertEquals(1_000_000_000L, Quantity.parseBytes("1e9"));
        assertEquals(3000L, Quantity.parseBytes("3k"));
        assertEquals(12345L, Quantity.parseBytes(" 12345 "));
    }

    @Test
    void fractionsOfAByteRoundUp() {
        // Like Kubernetes, a fraction of a byte rounds up to a whole byte.
        assertEquals(2, Quantity.parseBytes("1.3"));
        assertEquals(2, Quantity.parseBytes("1.5"));
    }

    @Test
    void rejectsWhatIsNotAByteCount() {
        assertThrows(IllegalArgumentException.class, () -> Quantity.parseBytes("100m"));
        assertThrows(IllegalArgumentException.class, () -> Quantity.parseBytes("4GiB"));
        assertThrows(IllegalArgumentException.class, () -> Quantity.parseBytes("-4Gi"));
        assertThrows(IllegalArgumentException.class, () -> Quantity.parseBytes("-1Gi"));
        assertThrows(IllegalArgumentException.class, () -> Quantity.parseBytes("Gi"));
        assertThrows(IllegalArgumentException.class, () -> Quantity.parseBytes("9Ei0"));
        assertThrows(IllegalArgumentException.class, () -> Quantity.parseBytes("16Ei"));
        assertThrows(IllegalArgumentException.class, () -> Quantity.parseBytes(""));
    }

    @Test
    void formatsWithTheLargestExactBinaryUnit() {
        assertEquals("16Mi", Quantity.format(16 * MIB));
        assertEquals("4Gi", Quantity.format(4 * GIB));
        assertEquals("1000", Quantity.format(1000));
    }
}
