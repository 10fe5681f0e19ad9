package dev.pmemcsi.pmemnative.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.pmemnative.BlockDevice;
import dev.pmemcsi.pmemnative.NativeException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import jnr.constants.platform.Errno;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real loop devices; needs root and /dev/loop-control. */
class LoopDevicesIT {

    private static final long MIB = 1024 * 1024;
    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    @TempDir
    Path dir;
    private Path file;
    private long inode;
    private final LoopDevices loops = new LoopDevices();

    @BeforeEach
    void backingFile() throws Exception {
        file = dir.resolve("backing.img");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(64 * MIB);
        }
        inode = (Long) Files.getAttribute(file, "unix:ino");
    }

    @AfterEach
    void noLoopDeviceLeft() throws Exception {
        List<LoopDevice> left = ours();
        for (LoopDevice l : left) {
            loops.detach(l, TIMEOUT);
        }
        assertEquals(List.of(), left, "loop devices left over the test file");
    }

    private List<LoopDevice> ours() throws NativeException {
        return loops.list().stream().filter(l -> l.backingInode() == inode).toList();
    }

    @Test
    void attachShowsTheRangeAndLabelAndDetachReleasesIt() throws Exception {
        LoopDevice loop = loops.attach(file, 16 * MIB, 8 * MIB, "pmem-csi:vol-1");
        assertEquals(16 * MIB, loop.offset());
        assertEquals(8 * MIB, loop.sizeLimit());
        assertEquals("pmem-csi:vol-1", loop.fileName());
        assertFalse(loop.autoclear(), "the device must survive without an open descriptor");
        assertEquals(file.toRealPath().toString(), loop.backingFile());
        assertEquals(inode, loop.backingInode());
        assertEquals((Long) Files.getAttribute(file, "unix:dev"), loop.backingDevice());
        assertTrue(ours().contains(loop));

        try (BlockDevice bd = BlockDevice.open(loop.device(), false)) {
            assertEquals(8 * MIB, bd.sizeBytes());
        }
        // What goes through the device lands at the offset in the file.
        try (FileChannel ch = FileChannel.open(loop.device(), StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap("hello".getBytes()), 4096);
            ch.force(true);
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocate(5);
            ch.read(buf, 16 * MIB + 4096);
            assertEquals("hello", new String(buf.array()));
        }

        assertTrue(loops.detach(loop, TIMEOUT));
        assertFalse(loops.isBound(loop.number()));
        assertTrue(loops.get(loop.number()).isEmpty());
    }

    @Test
    void detachOfAnExclusivelyOpenDeviceFailsWithEbusy() throws Exception {
        LoopDevice loop = loops.attach(file, 0, 4 * MIB, "pmem-csi:busy");
        try (BlockDevice holder = BlockDevice.open(loop.device(), true)) {
            assertTrue(BlockDevice.isBusy(loop.device()));
            NativeException e = assertThrows(NativeException.class, () -> loops.detach(loop, TIMEOUT));
            assertTrue(e.is(Errno.EBUSY), e.getMessage());
            assertTrue(loops.isBound(loop.number()));
        }
        assertTrue(loops.detach(loop, TIMEOUT));
    }

    @Test
    void concurrentAttachesGetDistinctDevices() throws Exception {
        int n = 8;
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<LoopDevice>> futures = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                long offset = i * 4 * MIB;
                String label = "pmem-csi:race-" + i;
                futures.add(pool.submit(() -> loops.attach(file, offset, 4 * MIB, label)));
            }
            Set<Integer> numbers = new HashSet<>();
            for (Future<LoopDevice> f : futures) {
                numbers.add(f.get().number());
            }
            assertEquals(n, numbers.size());
            for (LoopDevice l : ours()) {
                assertEquals("pmem-csi:race-" + l.offset() / (4 * MIB), l.fileName());
                assertTrue(loops.detach(l, TIMEOUT));
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void resizeGrowsTheDeviceWhileOpenAndKeepsOffsetLabelAndData() throws Exception {
        LoopDevice loop = loops.attach(file, 16 * MIB, 8 * MIB, "pmem-csi:grow");
        try (FileChannel ch = FileChannel.open(loop.device(), StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap("before".getBytes()), 8 * MIB - 6);
            ch.force(true);
        }
        // Held open across the resize, as a mounted filesystem holds it.
        try (BlockDevice held = BlockDevice.open(loop.device(), true)) {
            LoopDevice grown = loops.resize(loop, 24 * MIB);
            assertEquals(loop.number(), grown.number());
            assertEquals(16 * MIB, grown.offset());
            assertEquals(24 * MIB, grown.sizeLimit());
            assertEquals("pmem-csi:grow", grown.fileName());
            assertEquals(24 * MIB, held.sizeBytes());
        }
        try (FileChannel ch = FileChannel.open(loop.device(), StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocate(6);
            ch.read(buf, 8 * MIB - 6);
            assertEquals("before", new String(buf.array()));
        }
        assertTrue(loops.detach(loop, TIMEOUT));
        NativeException gone = assertThrows(NativeException.class, () -> loops.resize(loop, 32 * MIB));
        assertTrue(gone.is(Errno.ENXIO), gone.getMessage());
    }

    @Test
    void labelsLongerThanTheKernelFieldAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> loops.attach(file, 0, MIB, "x".repeat(64)));
    }
}
