package dev.pmemcsi.device.emulated;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.pmemnative.NativeException;
import dev.pmemcsi.pmemnative.loop.LoopDevice;
import dev.pmemcsi.pmemnative.loop.LoopDevices;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

/**
 * An emulated directory for one integration test, and the checks every such test ends with: no
 * loop device over its region files, no mount below it, no volume or used byte left.
 */
final class EmulatedFixture {

    static final long MIB = 1L << 20;
    static final long ALIGN = 16 * MIB;

    final Path dir;
    final List<Long> regions;
    final LoopDevices loops = new LoopDevices();
    private final List<EmulatedDeviceManager> managers = new ArrayList<>();

    EmulatedFixture(Path dir, List<Long> regions) {
        this.dir = dir;
        this.regions = regions;
    }

    EmulatedDeviceManager manager() {
        return manager(OperationListener.NONE);
    }

    EmulatedDeviceManager manager(OperationListener listener) {
        EmulatedDeviceManager m = new EmulatedDeviceManager(dir, regions, ALIGN, listener);
        managers.add(m);
        return m;
    }

    EmulatedDeviceManager started() throws DeviceException {
        EmulatedDeviceManager m = manager();
        m.start();
        return m;
    }

    /** Loop devices whose backing file is one of this directory's region files. */
    List<LoopDevice> loopsOfDir() throws IOException, NativeException {
        List<LoopDevice> result = new ArrayList<>();
        List<Long> inodes = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.filter(p -> p.getFileName().toString().matches("region\\d+\\.img")).toList()) {
                inodes.add((Long) Files.getAttribute(f, "unix:ino"));
            }
        }
        for (LoopDevice l : loops.list()) {
            if (inodes.contains(l.backingInode())) {
                result.add(l);
            }
        }
        return result;
    }

    /**
     * Deletes what the test left, then asserts that the test itself had cleaned up: no volume,
     * no used byte, no loop device of the directory, no mount below it.
     */
    void verifyCleanAndClose() throws Exception {
        List<String> problems = new ArrayList<>();
        EmulatedDeviceManager m = managers.stream().filter(EmulatedDeviceManager::isReady).findFirst().orElse(null);
        if (m != null) {
            for (PmemVolume v : m.listVolumes()) {
                problems.add("volume left: " + v.id());
                m.deleteVolume(v.id(), false);
            }
            long used = m.capacity().usedBytes();
            if (used != 0) {
                problems.add("bytes still allocated: " + used);
            }
        }
        managers.forEach(EmulatedDeviceManager::close);
        for (LoopDevice l : loopsOfDir()) {
            problems.add("loop device left: " + l);
            loops.detach(l, Duration.ofSeconds(10));
        }
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            if (line.contains(dir.toString())) {
                problems.add("mount left: " + line);
            }
        }
        assertEquals(List.of(), problems);
    }

    static byte[] pattern(long seed, int size) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }

    static void write(Path device, long offset, byte[] data) throws IOException {
        try (FileChannel ch = FileChannel.open(device, StandardOpenOption.WRITE)) {
            ByteBuffer buf = ByteBuffer.wrap(data);
            while (buf.hasRemaining()) {
                ch.write(buf, offset + buf.position());
            }
            ch.force(true);
        }
    }

    static byte[] read(Path file, long offset, int size) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocate(size);
            while (buf.hasRemaining()) {
                if (ch.read(buf, offset + buf.position()) < 0) {
                    break;
                }
            }
            return buf.array();
        }
    }

    /** Whether {@code [offset, offset + length)} of {@code file} reads as zeroes. */
    static boolean allZero(Path file, long offset, long length) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocateDirect((int) Math.min(length, 4 * MIB));
            long pos = offset;
            while (pos < offset + length) {
                buf.clear();
                buf.limit((int) Math.min(buf.capacity(), offset + length - pos));
                int n = ch.read(buf, pos);
                if (n <= 0) {
                    return false;
                }
                buf.flip();
                while (buf.remaining() >= 8) {
                    if (buf.getLong() != 0) {
                        return false;
                    }
                }
                while (buf.hasRemaining()) {
                    if (buf.get() != 0) {
                        return false;
                    }
                }
                pos += n;
            }
            return true;
        }
    }

    VolumeRecord row(String id) throws IOException {
        return new TableStore(dir.resolve(EmulatedDeviceManager.TABLE_FILE)).load().stream()
                .filter(r -> r.id().equals(id)).findFirst().orElse(null);
    }

    List<VolumeRecord> table() throws IOException {
        return new TableStore(dir.resolve(EmulatedDeviceManager.TABLE_FILE)).load();
    }
}
