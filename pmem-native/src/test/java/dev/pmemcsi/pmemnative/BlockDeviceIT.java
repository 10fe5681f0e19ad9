package dev.pmemcsi.pmemnative;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.pmemnative.loop.LoopDevice;
import dev.pmemcsi.pmemnative.loop.LoopDevices;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import jnr.constants.platform.Errno;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Zeroing, reading back and exclusive opens on a real block device: a loop device over a file
 * filled with non-zero bytes. Needs root and /dev/loop-control.
 */
class BlockDeviceIT {

    private static final int KIB = 1024;
    private static final int MIB = 1024 * KIB;
    private static final long DEVICE_BYTES = 8L * MIB;

    @TempDir
    Path dir;
    private final LoopDevices loops = new LoopDevices();
    private LoopDevice loop;

    @BeforeEach
    void filledLoopDevice() throws Exception {
        Path file = dir.resolve("backing.img");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(DEVICE_BYTES);
        }
        loop = loops.attach(file, 0, DEVICE_BYTES, "pmem-csi:blockdevice-it");
        byte[] ones = new byte[MIB];
        Arrays.fill(ones, (byte) 0x5a);
        try (FileChannel ch = FileChannel.open(loop.device(), StandardOpenOption.WRITE)) {
            for (long pos = 0; pos < DEVICE_BYTES; pos += MIB) {
                ch.write(ByteBuffer.wrap(ones), pos);
            }
            ch.force(true);
        }
    }

    @AfterEach
    void detach() throws Exception {
        assertTrue(loops.detach(loop, Duration.ofSeconds(10)), "loop device detached");
        assertFalse(loops.isBound(loop.number()));
    }

    @Test
    void directZeroWritesReportProgressAndReadBackAsZeroOnlyInTheirRange() throws Exception {
        try (BlockDevice bd = BlockDevice.open(loop.device(), true, true)) {
            assertEquals(DEVICE_BYTES, bd.sizeBytes());
            assertFalse(bd.isZero(0, 64 * KIB));
            List<Long> progress = new ArrayList<>();
            long offset = 64 * KIB;
            long length = 2 * MIB + 512 * KIB;
            bd.writeZeros(offset, length, MIB, progress::add);
            assertEquals(List.of((long) MIB, 2L * MIB, length), progress, "bytes written after each chunk");
            bd.fsync();
            assertTrue(bd.isZero(offset, (int) length));
            assertFalse(bd.isZero(offset - 4 * KIB, 4 * KIB), "the page before the range is untouched");
            assertFalse(bd.isZero(offset + length, 4 * KIB), "the page after the range is untouched");
        }
        // What O_DIRECT wrote is what a buffered reader of the device sees.
        try (FileChannel ch = FileChannel.open(loop.device(), StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocate(4 * KIB);
            ch.read(buf, 64 * KIB);
            assertTrue(isAllZero(buf.array()));
        }
    }

    @Test
    void zeroHeadWritesOnlyWhenTheHeadIsNotZero() throws Exception {
        try (BlockDevice bd = BlockDevice.open(loop.device(), true, true)) {
            assertTrue(bd.zeroHead(8 * KIB), "non-zero head is zeroed");
            assertTrue(bd.isZero(0, 8 * KIB));
            assertFalse(bd.isZero(8 * KIB, 4 * KIB), "nothing past the head");
            assertFalse(bd.zeroHead(8 * KIB), "a zero head is left alone");
        }
    }

    @Test
    void zeroOutZeroesTheRangeAndChecksSectorAlignment() throws Exception {
        try (BlockDevice bd = BlockDevice.open(loop.device(), true)) {
            bd.zeroOut(MIB, MIB);
            bd.fsync();
            assertTrue(bd.isZero(MIB, MIB));
            assertFalse(bd.isZero(2 * MIB, 4 * KIB));
            assertThrows(IllegalArgumentException.class, () -> bd.zeroOut(100, MIB));
            assertThrows(IllegalArgumentException.class, () -> bd.zeroOut(0, 1000));
        }
    }

    @Test
    void directIoRefusesMisalignedRangesAndBufferedIoTakesThem() throws Exception {
        try (BlockDevice bd = BlockDevice.open(loop.device(), true, true)) {
            assertThrows(IllegalArgumentException.class, () -> bd.isZero(100, 4 * KIB));
            assertThrows(IllegalArgumentException.class, () -> bd.isZero(0, 100));
            assertThrows(IllegalArgumentException.class, () -> bd.writeZeros(0, 4 * KIB, 1000, n -> { }));
            assertThrows(IllegalArgumentException.class, () -> bd.writeZeros(512, 4 * KIB, 4 * KIB, n -> { }));
        }
        try (BlockDevice bd = BlockDevice.open(loop.device(), true)) {
            bd.writeZeros(100, 1000, 300, n -> { });
            bd.fsync();
            assertTrue(bd.isZero(100, 1000));
            assertFalse(bd.isZero(99, 2));
            assertFalse(bd.isZero(1099, 2));
        }
    }

    @Test
    void readingPastTheEndIsEio() throws Exception {
        try (BlockDevice bd = BlockDevice.open(loop.device(), true, true)) {
            NativeException e = assertThrows(NativeException.class, () -> bd.isZero(DEVICE_BYTES - 4 * KIB, 8 * KIB));
            assertTrue(e.is(Errno.EIO), e.getMessage());
            assertTrue(e.call().startsWith("pread(" + loop.device()), e.call());
        }
    }

    @Test
    void aHeldDeviceRefusesAnotherExclusiveOpenWithEbusy() throws Exception {
        try (BlockDevice held = BlockDevice.open(loop.device(), true)) {
            NativeException e = assertThrows(NativeException.class, () -> BlockDevice.open(loop.device(), true, true));
            assertTrue(e.is(Errno.EBUSY), e.getMessage());
            assertTrue(e.getMessage().contains("mounted or open"), e.getMessage());
            // A shared open still works: it is how the size of a mounted device is read.
            assertEquals(DEVICE_BYTES, BlockDevice.sizeOf(loop.device()));
        }
    }

    @Test
    void aClosedDeviceRefusesIo() throws Exception {
        BlockDevice bd = BlockDevice.open(loop.device(), true);
        bd.close();
        assertEquals(-1, bd.fd());
        assertThrows(IllegalStateException.class, bd::sizeBytes);
        assertThrows(IllegalStateException.class, () -> bd.isZero(0, 4 * KIB));
        bd.close();
    }

    @Test
    void openOfAMissingDeviceNamesTheCall() {
        Path missing = dir.resolve("no-such-device");
        NativeException e = assertThrows(NativeException.class, () -> BlockDevice.open(missing, true, true));
        assertTrue(e.is(Errno.ENOENT), e.getMessage());
        assertEquals("open(" + missing + ", O_EXCL, O_DIRECT)", e.call());
        assertFalse(Files.exists(missing));
    }

    private static boolean isAllZero(byte[] data) {
        for (byte b : data) {
            if (b != 0) {
                return false;
            }
        }
        return true;
    }
}
