package dev.pmemcsi.ndctl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class NamespaceSpecTest {

    private static final UUID U = UUID.fromString("0f8e2c6a-1b2c-4d5e-8f90-a1b2c3d4e5f6");

    @Test
    void nameIsUtf8WithTerminatingNulWhateverTheDefaultCharset() {
        NamespaceSpec spec = NamespaceSpec.of(NamespaceMode.FSDAX, 16 << 20, "ümlaut-名前", U);
        byte[] expected = Arrays.copyOf("ümlaut-名前".getBytes(StandardCharsets.UTF_8), 15);
        assertArrayEquals(expected, spec.altNameBytes());
        assertEquals(0, spec.altNameBytes()[14]);
    }

    @Test
    void sixtyThreeBytesFitSixtyFourDoNot() {
        NamespaceSpec.of(NamespaceMode.FSDAX, 1, "a".repeat(63), U);
        assertThrows(IllegalArgumentException.class, () -> NamespaceSpec.of(NamespaceMode.FSDAX, 1, "a".repeat(64), U));
        // 32 two-byte characters are 64 bytes: the limit is in bytes, not characters.
        assertThrows(IllegalArgumentException.class, () -> NamespaceSpec.of(NamespaceMode.FSDAX, 1, "ü".repeat(32), U));
    }

    @Test
    void rejectsUnusableArguments() {
        assertThrows(IllegalArgumentException.class, () -> NamespaceSpec.of(NamespaceMode.FSDAX, 0, "x", U));
        assertThrows(IllegalArgumentException.class, () -> NamespaceSpec.of(NamespaceMode.UNKNOWN, 1, "x", U));
        assertThrows(IllegalArgumentException.class, () -> NamespaceSpec.of(NamespaceMode.RAW, 1, "a\0b", U));
        assertThrows(IllegalArgumentException.class, () -> new NamespaceSpec(NamespaceMode.FSDAX, 1, "x", U, 3 << 20, 4096));
    }

    @Test
    void uuidBytesAreBigEndianRfc4122() {
        byte[] b = Uuids.toBytes(U);
        assertEquals(0x0f, b[0]);
        assertEquals((byte) 0xf6, b[15]);
        assertEquals(U, Uuids.fromBytes(b));
    }

    @Test
    void modeCodesMatchLibndctl() {
        assertEquals(NamespaceMode.FSDAX, NamespaceMode.fromCode(0));
        assertEquals(NamespaceMode.SECTOR, NamespaceMode.fromCode(1));
        assertEquals(NamespaceMode.RAW, NamespaceMode.fromCode(2));
        assertEquals(NamespaceMode.DEVDAX, NamespaceMode.fromCode(3));
        assertEquals(NamespaceMode.UNKNOWN, NamespaceMode.fromCode(7));
        assertEquals(PersistenceDomain.UNKNOWN, PersistenceDomain.fromCode(Integer.MAX_VALUE));
        assertEquals(PersistenceDomain.MEMORY_CONTROLLER, PersistenceDomain.fromCode(10));
    }

    @Test
    void badBlockOverlapCountsSectorsInsideTheRange() {
        BadBlock bb = new BadBlock(100, 20);
        assertEquals(20, bb.overlap(0, 1000));
        assertEquals(10, bb.overlap(110, 100));
        assertEquals(5, bb.overlap(95, 10));
        assertEquals(0, bb.overlap(120, 10));
    }
}
