package dev.pmemcsi.pmemnative;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
    void isZeroSeesOneByteAnywhereInTheRangeAndTheEndReadsAsZero() throws Exception {
        byte[] data = new byte[3 * SIZE];
        data[2 * SIZE + 17] = 1;
        Path file = Files.write(dir.resolve("scan.img"), data);
        try (RegularFile f = RegularFile.open(file)) {
            assertTrue(f.isZero(0, 2 * SIZE + 17), "the range ends before the byte");
            assertFalse(f.isZero(SIZE, 2 * SIZE), "the byte is in the range's last buffer");
            assertFalse(f.isZero(2 * SIZE + 17, 1));
            assertTrue(f.isZero(2 * SIZE + 18, 4 * SIZE), "beyond the end reads as zeroes");
        }
    }

    @Test
    void nextDataSkipsAHoleOrAnswersTheOffsetItself() throws Exception {
        Path file = dir.resolve("sparse.img");
        Files.write(file, new byte[0]);
        try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(64L << 20);
            raf.seek(32L << 20);
            raf.write(1);
        }
        try (RegularFile f = RegularFile.open(file)) {
            long next = f.nextData(0);
            // A filesystem that cannot tell answers the offset itself; one that can skips the hole.
            assertTrue(next == 0 || (next <= 32L << 20 && next > 0), "next data at " + next);
            long end = f.nextData((32L << 20) + (1 << 20));
            assertTrue(end == Long.MAX_VALUE || end == (32L << 20) + (1 << 20), "after the last data: " + end);
        }
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
