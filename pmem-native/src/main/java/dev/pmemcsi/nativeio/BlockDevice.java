package dev.pmemcsi.nativeio;

import java.nio.file.Path;
import jnr.constants.platform.Errno;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.byref.LongLongByReference;

/**
 * An open block device. Opening with {@code exclusive} fails with EBUSY while the device is
 * mounted or held by another exclusive opener, which is how the driver tells "in use".
 */
public final class BlockDevice implements AutoCloseable {

    private static final long BLKGETSIZE64 = 0x80081272L;
    private static final long BLKDISCARD = 0x1277L;
    private static final long BLKZEROOUT = 0x127FL;

    private final Path path;
    private int fd;

    private BlockDevice(Path path, int fd) {
        this.path = path;
        this.fd = fd;
    }

    public static BlockDevice open(Path path, boolean exclusive) throws NativeException {
        int flags = OpenFlags.O_RDWR | OpenFlags.O_CLOEXEC | (exclusive ? OpenFlags.O_EXCL : 0);
        int fd = Native.libc().open(path.toString(), flags, 0);
        if (fd < 0) {
            throw new NativeException("open(" + path + (exclusive ? ", O_EXCL" : "") + ")", Native.errno());
        }
        return new BlockDevice(path, fd);
    }

    /** The size of the device at {@code path}, opened read-only so that a mounted device can be asked too. */
    public static long sizeOf(Path path) throws NativeException {
        int fd = Native.libc().open(path.toString(), OpenFlags.O_RDONLY | OpenFlags.O_CLOEXEC, 0);
        if (fd < 0) {
            throw new NativeException("open(" + path + ", O_RDONLY)", Native.errno());
        }
        try (BlockDevice dev = new BlockDevice(path, fd)) {
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

    public int fd() {
        return fd;
    }

    public long sizeBytes() throws NativeException {
        LongLongByReference size = new LongLongByReference();
        Native.check(Native.libc().ioctl(fd, BLKGETSIZE64, size), "ioctl(" + path + ", BLKGETSIZE64)");
        return size.longValue();
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
        Pointer range = Memory.allocateDirect(Native.runtime(), 16);
        range.putLong(0, offset);
        range.putLong(8, length);
        Native.check(Native.libc().ioctl(fd, request, range),
                "ioctl(" + path + ", " + name + ", " + offset + "+" + length + ")");
    }

    public void fsync() throws NativeException {
        Native.check(Native.libc().fsync(fd), "fsync(" + path + ")");
    }

    @Override
    public void close() {
        if (fd >= 0) {
            Native.libc().close(fd);
            fd = -1;
        }
    }
}
