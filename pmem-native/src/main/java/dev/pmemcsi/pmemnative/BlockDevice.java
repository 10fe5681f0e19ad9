package dev.pmemcsi.pmemnative;

import java.nio.file.Path;
import java.util.function.LongConsumer;
import jnr.constants.platform.Errno;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.byref.LongLongByReference;

/**
 * An open block device. Opening with {@code exclusive} ({@code O_EXCL}) fails with EBUSY while the
 * device is mounted or held by another exclusive opener, which is how the driver tells "in use",
 * and keeps new mounts out for as long as it is held. Opening with {@code direct} ({@code O_DIRECT})
 * bypasses the page cache, so that zeroes written here are on the media and what is read back is
 * the media's, not a cached copy.
 *
 * <p>Not thread safe; one instance per operation.
 */
public final class BlockDevice implements AutoCloseable {

    private static final long BLKGETSIZE64 = 0x80081272L;
    private static final long BLKDISCARD = 0x1277L;
    private static final long BLKZEROOUT = 0x127FL;
    /** O_DIRECT needs buffers, offsets and lengths aligned to the logical block size; 4 KiB covers all. */
    public static final int DIRECT_ALIGN = 4096;
    /** BLKZEROOUT and BLKDISCARD take ranges in 512-byte sectors. */
    private static final int SECTOR = 512;

    private final Path path;
    private final boolean direct;
    private int fd;

    private BlockDevice(Path path, boolean direct, int fd) {
        this.path = path;
        this.direct = direct;
        this.fd = fd;
    }

    /** Opens {@code path} read-write, with {@code O_EXCL} when {@code exclusive}. */
    public static BlockDevice open(Path path, boolean exclusive) throws NativeException {
        return open(path, exclusive, false);
    }

    /**
     * Opens {@code path} read-write, with {@code O_EXCL} when {@code exclusive} and {@code O_DIRECT}
     * when {@code direct}.
     *
     * @throws NativeException with EBUSY when {@code exclusive} and the device is mounted or held
     */
    public static BlockDevice open(Path path, boolean exclusive, boolean direct) throws NativeException {
        int flags = OpenFlags.O_RDWR | OpenFlags.O_CLOEXEC | (exclusive ? OpenFlags.O_EXCL : 0)
                | (direct ? OpenFlags.O_DIRECT : 0);
        int fd = Native.libc().open(path.toString(), flags, 0);
        if (fd < 0) {
            int errno = Native.errno();
            String call = "open(" + path + (exclusive ? ", O_EXCL" : "") + (direct ? ", O_DIRECT" : "") + ")";
            if (exclusive && errno == Errno.EBUSY.intValue()) {
                throw new NativeException(call, errno, "the device is mounted or open");
            }
            throw new NativeException(call, errno);
        }
        return new BlockDevice(path, direct, fd);
    }

    /** The size of the device at {@code path}, opened read-only so that a mounted device can be asked too. */
    public static long sizeOf(Path path) throws NativeException {
        int fd = Native.libc().open(path.toString(), OpenFlags.O_RDONLY | OpenFlags.O_CLOEXEC, 0);
        if (fd < 0) {
            throw new NativeException("open(" + path + ", O_RDONLY)", Native.errno());
        }
        try (BlockDevice dev = new BlockDevice(path, false, fd)) {
            return dev.sizeBytes();
        }
    }

    /** True when the device is mounted or held exclusively by someone else. */
    public static boolean isBusy(Path path) throws NativeException {
        try (BlockDevice ignored = open(path, true)) {
            return false;
        } catch (NativeException e) {
            if (e.is(Errno.EBUSY)) {
                return true;
            }
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    /** The descriptor, for ioctls of other layers (loop devices); -1 once closed. */
    public int fd() {
        return fd;
    }

    public long sizeBytes() throws NativeException {
        LongLongByReference size = new LongLongByReference();
        Native.check(Native.libc().ioctl(checkOpen(), BLKGETSIZE64, size), "ioctl(" + path + ", BLKGETSIZE64)");
        return size.longValue();
    }

    /**
     * Whether {@code length} bytes at {@code offset} read as zero. On a device opened with
     * O_DIRECT both must be multiples of {@link #DIRECT_ALIGN}.
     */
    public boolean isZero(long offset, int length) throws NativeException {
        if (direct) {
            requireAligned(offset, length);
        }
        return ZeroReads.isZero(checkOpen(), path.toString(), alignedBuffer(length), length, offset, length, false);
    }

    /**
     * Writes zeroes over {@code [offset, offset + length)} in writes of at most {@code chunkBytes},
     * reporting the bytes written so far after each one; a write interrupted by a signal is
     * restarted. On a device opened with O_DIRECT all three must be multiples of {@link #DIRECT_ALIGN}.
     */
    public void writeZeros(long offset, long length, int chunkBytes, LongConsumer progress) throws NativeException {
        if (chunkBytes <= 0) {
            throw new IllegalArgumentException("chunk size must be positive: " + chunkBytes);
        }
        if (direct) {
            requireAligned(offset, length);
            requireAligned(0, chunkBytes);
        }
        ZeroWrites.write(checkOpen(), path.toString(), alignedBuffer(chunkBytes), chunkBytes, offset, length, progress);
    }

    /**
     * Zeroes the first {@code bytes} of the device unless they already read as zero, and flushes
     * what it wrote. Returns whether it wrote. Reading first spares the media a write when there is
     * nothing to clear, which is the common case.
     */
    public boolean zeroHead(int bytes) throws NativeException {
        if (isZero(0, bytes)) {
            return false;
        }
        writeZeros(0, bytes, bytes, done -> { });
        fsync();
        return true;
    }

    /** Makes {@code [offset, offset+length)} read back as zeroes; the kernel picks the fastest way. */
    public void zeroOut(long offset, long length) throws NativeException {
        rangeIoctl(BLKZEROOUT, "BLKZEROOUT", offset, length);
    }

    /** Discards the range; whether it then reads as zeroes depends on the device. */
    public void discard(long offset, long length) throws NativeException {
        rangeIoctl(BLKDISCARD, "BLKDISCARD", offset, length);
    }

    private void rangeIoctl(long request, String name, long offset, long length) throws NativeException {
        if (offset % SECTOR != 0 || length % SECTOR != 0) {
            throw new IllegalArgumentException(name + " needs 512-byte alignment: " + offset + "+" + length);
        }
        Pointer range = Memory.allocateDirect(Native.runtime(), 16);
        range.putLong(0, offset);
        range.putLong(8, length);
        Native.check(Native.libc().ioctl(checkOpen(), request, range),
                "ioctl(" + path + ", " + name + ", " + offset + "+" + length + ")");
    }

    public void fsync() throws NativeException {
        Native.check(Native.libc().fsync(checkOpen()), "fsync(" + path + ")");
    }

    @Override
    public void close() {
        if (fd >= 0) {
            Native.libc().close(fd);
            fd = -1;
        }
    }

    private String rangeCall(String call, long offset, long length) {
        return call + "(" + path + ", " + offset + "+" + length + ")";
    }

    /** A buffer aligned for O_DIRECT; zero-filled, and freed by the garbage collector. */
    private static Pointer alignedBuffer(long length) {
        Pointer raw = Memory.allocateDirect(Native.runtime(), Math.toIntExact(length + DIRECT_ALIGN), true);
        long misalign = raw.address() % DIRECT_ALIGN;
        long skip = misalign == 0 ? 0 : DIRECT_ALIGN - misalign;
        // The slice keeps the allocation reachable for as long as the caller holds it.
        return raw.slice(skip, length);
    }

    private int checkOpen() {
        if (fd < 0) {
            throw new IllegalStateException(path + " is closed");
        }
        return fd;
    }

    private static void requireAligned(long offset, long length) {
        if (offset % DIRECT_ALIGN != 0 || length % DIRECT_ALIGN != 0) {
            throw new IllegalArgumentException("O_DIRECT I/O needs 4 KiB alignment: " + offset + "+" + length);
        }
    }
}
