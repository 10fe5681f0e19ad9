package dev.pmemcsi.device.emulated;

import static dev.pmemcsi.device.emulated.EmulatedFixture.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.pmemnative.BlockDevice;
import dev.pmemcsi.pmemnative.Native;
import dev.pmemcsi.pmemnative.loop.LoopDevice;
import dev.pmemcsi.pmemnative.loop.LoopDevices;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Compares the ways of zeroing an extent of a region file on this host and checks that each one
 * really reads back as zeroes, and nothing outside the extent; the fastest correct one is what
 * {@link ExtentEraser} uses. The
 * timings are printed to the log and to {@code target/erase-measurements.txt}.
 */
class EraseMethodsIT {

    private static final Logger LOG = LoggerFactory.getLogger(EraseMethodsIT.class);
    /** {@code -Dpmem-csi.test.erase-mib=512} for the figures in docs/emulated-mode.md. */
    private static final long EXTENT = Long.getLong("pmem-csi.test.erase-mib", 256) * MIB;
    private static final long OFFSET = 64 * MIB;
    private static final int ROUNDS = 3;

    @TempDir
    Path dir;

    private interface Eraser {
        void erase(Path file) throws Exception;
    }

    @Test
    void everyMethodZeroesOnlyTheExtentAndTheDefaultIsZeroRange() throws Exception {
        Path file = dir.resolve("region0.img");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(OFFSET + EXTENT + 64 * MIB);
        }
        ExtentEraser eraser = new ExtentEraser();
        LoopDevices loops = new LoopDevices();
        Map<String, Eraser> methods = new LinkedHashMap<>();
        methods.put("fallocate PUNCH_HOLE|KEEP_SIZE", f -> eraser.erase(f, OFFSET, EXTENT, "measure", ExtentEraser.Method.PUNCH_HOLE));
        methods.put("fallocate ZERO_RANGE|KEEP_SIZE", f -> eraser.erase(f, OFFSET, EXTENT, "measure", ExtentEraser.Method.ZERO_RANGE));
        methods.put("pwrite of 4 MiB zero buffers", f -> eraser.erase(f, OFFSET, EXTENT, "measure", ExtentEraser.Method.WRITE_ZEROES));
        methods.put("BLKZEROOUT on the loop device", f -> onLoop(loops, f, bd -> bd.zeroOut(0, EXTENT)));
        methods.put("BLKDISCARD on the loop device", f -> onLoop(loops, f, bd -> bd.discard(0, EXTENT)));

        // Rounds interleave the methods so that no method always runs first after a fill.
        Map<String, Long> best = new LinkedHashMap<>();
        Map<String, Long> diskAfter = new LinkedHashMap<>();
        for (int round = 0; round < ROUNDS; round++) {
            for (Map.Entry<String, Eraser> m : methods.entrySet()) {
                fill(file, round);
                assertFalse(EmulatedFixture.allZero(file, OFFSET, EXTENT));
                long start = System.nanoTime();
                m.getValue().erase(file);
                best.merge(m.getKey(), System.nanoTime() - start, Math::min);
                assertTrue(EmulatedFixture.allZero(file, OFFSET, EXTENT), m.getKey() + " left data in the extent");
                assertFalse(EmulatedFixture.allZero(file, OFFSET - MIB, MIB), m.getKey() + " zeroed bytes before the extent");
                assertFalse(EmulatedFixture.allZero(file, OFFSET + EXTENT, MIB), m.getKey() + " zeroed bytes after the extent");
                diskAfter.put(m.getKey(), allocatedMib(file));
            }
        }
        StringBuilder report = new StringBuilder("method | MiB/s (best of " + ROUNDS + ") | ms | reads zeroes | host disk used by the file after\n");
        best.forEach((method, nanos) -> report.append(String.format("%s | %d | %d | yes | %d MiB%n", method,
                EXTENT / MIB * 1_000_000_000L / Math.max(1, nanos), nanos / 1_000_000, diskAfter.get(method))));
        LOG.info("erase of {} MiB on {}:\n{}", EXTENT / MIB, Files.getFileStore(file).type(), report);
        Path out = Path.of("target", "erase-measurements.txt");
        if (Files.isDirectory(out.getParent())) {
            Files.writeString(out, "filesystem " + Files.getFileStore(file).type() + ", extent " + EXTENT / MIB + " MiB\n" + report);
        }
        fill(file, 9);
        if (Files.getFileStore(file).type().equals("ext4") || Files.getFileStore(file).type().equals("xfs")) {
            assertEquals(ExtentEraser.Method.ZERO_RANGE, eraser.erase(file, OFFSET, EXTENT, "default"));
        } else {
            eraser.erase(file, OFFSET, EXTENT, "default");
        }
        assertTrue(EmulatedFixture.allZero(file, OFFSET, EXTENT));
    }

    private interface DeviceOp {
        void run(BlockDevice bd) throws Exception;
    }

    private static void onLoop(LoopDevices loops, Path file, DeviceOp op) throws Exception {
        LoopDevice loop = loops.attach(file, OFFSET, EXTENT, "pmem-csi:measure");
        try {
            try (BlockDevice bd = BlockDevice.open(loop.device(), true)) {
                op.run(bd);
                bd.fsync();
            }
        } finally {
            assertTrue(loops.detach(loop, Duration.ofSeconds(10)));
        }
    }

    /** Writes non-zero data over the extent and 1 MiB on each side, and flushes it. */
    private static void fill(Path file, long seed) throws Exception {
        byte[] chunk = new byte[(int) (4 * MIB)];
        new Random(seed).nextBytes(chunk);
        ByteBuffer buf = ByteBuffer.allocateDirect(chunk.length);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            for (long pos = OFFSET - MIB; pos < OFFSET + EXTENT + MIB; pos += chunk.length) {
                buf.clear();
                buf.put(chunk, 0, (int) Math.min(chunk.length, OFFSET + EXTENT + MIB - pos));
                buf.flip();
                while (buf.hasRemaining()) {
                    ch.write(buf, pos + buf.position());
                }
            }
            ch.force(true);
        }
    }

    /** Host disk space the file occupies: st_blocks counts 512-byte units. */
    private static long allocatedMib(Path file) {
        return Native.posix().stat(file.toString()).blocks() * 512 / MIB;
    }
}
