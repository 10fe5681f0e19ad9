package dev.pmemcsi.pmemnative;

import java.nio.file.Path;
import jnr.constants.platform.Errno;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;

/**
 * An open regular file whose byte ranges are zeroed in place: the region files behind emulated
 * PMEM. Every call is restarted on EINTR ({@link Native#restartOnEintr}); a filesystem that cannot
 * do a {@code fallocate} mode fails it with EOPNOTSUPP, which the caller may take as "try the next
 * way".
 *
 * <p>Not thread safe; one instance per operation.
 */
public final class RegularFile implements AutoCloseable {

    private static final int FALLOC_FL_KEEP_SIZE = 0x01;
    private static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    private static final int FALLOC_FL_ZERO_RANGE = 0x10;
    private static final int SEEK_DATA = 3;
    private static final int SEEK_HOLE = 4;
    private static final long READ_BUFFER = 1 << 20;

    private final Path path;
    private int fd;
    /** Allocated on the first {@link #writeZeros}, then reused for every write. */
    private Pointer zeros;

    private RegularFile(Path path, int fd) {
        this.path = path;
        this.fd = fd;
    }

    /** Opens {@code path} read-write; a symbolic link is refused (ELOOP), not followed. */
    public static RegularFile open(Path path) throws NativeException {
        int flags = OpenFlags.O_RDWR | OpenFlags.O_NOFOLLOW | OpenFlags.O_CLOEXEC;
        int fd = (int) Native.restartOnEintr(() -> Native.libc().open(path.toString(), flags, 0));
        Native.check(fd, "open(" + path + ")");
        return new RegularFile(path, fd);
    }

    /** Opens {@code path} read-only; a symbolic link is refused (ELOOP), not followed. */
    public static RegularFile openReadOnly(Path path) throws NativeException {
        int flags = OpenFlags.O_RDONLY | OpenFlags.O_NOFOLLOW | OpenFlags.O_CLOEXEC;
        int fd = (int) Native.restartOnEintr(() -> Native.libc().open(path.toString(), flags, 0));
        Native.check(fd, "open(" + path + ", O_RDONLY)");
        return new RegularFile(path, fd);
    }

    /**
     * The bytes the file occupies on its filesystem ({@code st_blocks} × 512): for a sparse file
     * far less than its size.
     */
    public static long allocatedBytes(Path path) {
        return Native.posix().lstat(path.toString()).blocks() * 512L;
    }

    /**
     * {@code fallocate(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE)}: the filesystem marks the blocks
     * unwritten, so the range reads as zeroes without a byte written and keeps its disk blocks.
     */
    public void zeroRange(long offset, long length) throws NativeException {
        fallocate(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, "ZERO_RANGE", offset, length);
    }

    /**
     * {@code fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)}: the range reads as zeroes and
     * its disk blocks are released.
     */
    public void punchHole(long offset, long length) throws NativeException {
        fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, "PUNCH_HOLE", offset, length);
    }

    /** Writes zeroes over the range in writes of at most {@code chunkBytes}, for filesystems without fallocate. */
    public void writeZeros(long offset, long length, int chunkBytes) throws NativeException {
        if (chunkBytes <= 0) {
            throw new IllegalArgumentException("chunk size must be positive: " + chunkBytes);
        }
        if (zeros == null || zeros.size() < chunkBytes) {
            zeros = Memory.allocateDirect(Native.runtime(), chunkBytes, true);
        }
        ZeroWrites.write(checkOpen(), path.toString(), zeros, chunkBytes, offset, length, done -> { });
    }

    /**
     * Whether {@code [offset, offset + length)} reads as zeroes; bytes beyond the end of the file do.
     * Reads a MiB at a time, so a large range costs no large buffer.
     */
    public boolean isZero(long offset, long length) throws NativeException {
        int bufBytes = (int) Math.max(1, Math.min(length, READ_BUFFER));
        Pointer buf = Memory.allocateDirect(Native.runtime(), bufBytes);
        return ZeroReads.isZero(checkOpen(), path.toString(), buf, bufBytes, offset, length, true);
    }

    /**
     * Where the next data at or after {@code offset} starts ({@code lseek(SEEK_DATA)}), so that
     * a scan skips the holes of a sparse file: {@link Long#MAX_VALUE} when only a hole follows,
     * {@code offset} itself when the filesystem cannot tell.
     */
    public long nextData(long offset) {
        int fd = checkOpen();
        long next = Native.restartOnEintr(() -> Native.libc().lseek(fd, offset, SEEK_DATA));
        if (next >= 0) {
            return next;
        }
        return Native.errno() == Errno.ENXIO.intValue() ? Long.MAX_VALUE : offset;
    }

    /**
     * Where the hole at or after {@code offset} starts ({@code lseek(SEEK_HOLE)}); the end of the
     * file counts as a hole. {@code size} when the filesystem cannot tell, so that a scan then
     * takes everything from {@code offset} on as data.
     */
    public long nextHole(long offset, long size) {
        int fd = checkOpen();
        long next = Native.restartOnEintr(() -> Native.libc().lseek(fd, offset, SEEK_HOLE));
        return next >= 0 ? Math.min(next, size) : size;
    }

    public void fsync() throws NativeException {
        int fd = checkOpen();
        Native.check((int) Native.restartOnEintr(() -> Native.libc().fsync(fd)), "fsync(" + path + ")");
    }

    @Override
    public void close() {
        if (fd >= 0) {
            Native.libc().close(fd);
            fd = -1;
        }
    }

    private void fallocate(int mode, String name, long offset, long length) throws NativeException {
        int fd = checkOpen();
        Native.check((int) Native.restartOnEintr(() -> Native.libc().fallocate(fd, mode, offset, length)),
                "fallocate(" + path + ", " + name + ", " + offset + "+" + length + ")");
    }

    private int checkOpen() {
        if (fd >= 0) {
            return fd;
        }
        throw new IllegalStateException(path + " is closed");
    }
}
