package dev.pmemcsi.nativeio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import jnr.constants.platform.Errno;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RegularFileTest {

    private static final int SIZE = 1 << 20;
    private static final int OFFSET = 256 << 10;
    private static final int LENGTH = 128 << 10;

    @TempDir
    Path dir;

    private interface Zeroing {
        void zero(RegularFile f) throws NativeException;
    }

    @Test
    void writeZerosZeroesExactlyTheRangeInChunks() throws Exception {
        // A chunk that does not divide the length, so the last write is a short one.
        assertOnlyTheRangeIsZeroed(f -> f.writeZeros(OFFSET, LENGTH, 48 << 10));
    }

    @Test
    void zeroRangeZeroesExactlyTheRange() throws Exception {
        assertOnlyTheRangeIsZeroed(f -> f.zeroRange(OFFSET, LENGTH));
    }

    @Test
    void punchHoleZeroesExactlyTheRange() throws Exception {
        assertOnlyTheRangeIsZeroed(f -> f.punchHole(OFFSET, LENGTH));
    }

    @Test
    void aSymbolicLinkIsNotFollowed() throws Exception {
        Path target = Files.write(dir.resolve("target"), new byte[16]);
        Path link = Files.createSymbolicLink(dir.resolve("link"), target);
        NativeException e = assertThrows(NativeException.class, () -> RegularFile.open(link));
        assertTrue(e.is(Errno.ELOOP), e.getMessage());
    }

    private void assertOnlyTheRangeIsZeroed(Zeroing zeroing) throws Exception {
        byte[] data = new byte[SIZE];
        Arrays.fill(data, (byte) 0x5a);
        Path file = Files.write(dir.resolve("region.img"), data);
        try (RegularFile f = RegularFile.open(file)) {
            try {
                zeroing.zero(f);
            } catch (NativeException e) {
                // tmpfs and btrfs lack some fallocate modes; that is what the caller's fallback is for.
                assumeFalse(e.is(Errno.EOPNOTSUPP), e.getMessage());
                throw e;
            }
            f.fsync();
        }
        byte[] after = Files.readAllBytes(file);
        assertEquals(SIZE, after.length, "the file keeps its size");
        byte[] expected = data.clone();
        Arrays.fill(expected, OFFSET, OFFSET + LENGTH, (byte) 0);
        assertArrayEquals(expected, after);
    }
}
