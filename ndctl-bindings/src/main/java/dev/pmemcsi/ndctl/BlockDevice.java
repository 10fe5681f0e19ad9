package dev.pmemcsi.ndctl;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.function.LongConsumer;
import jnr.ffi.LastError;
import jnr.ffi.Memory;
import jnr.ffi.Platform;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;

/**
 * A namespace's block device, opened exclusively ({@code O_EXCL}): the open fails with EBUSY while
 * the device is mounted or held open exclusively by someone else, and blocks new mounts while it
 * is held. Used to wipe info blocks and to erase volumes.
 *
 * <p>Not thread safe; one instance per operation.
 */
public final class BlockDevice implements AutoCloseable {

    private static final int O_RDWR = 2;
    private static final int O_EXCL = 0x80;
    private static final int O_CLOEXEC = 0x80000;
    /** O_DIRECT differs between architectures. */
    private static final int O_DIRECT = Platform.getNativePlatform().getCPU() == Platform.CPU.AARCH64 ? 0x10000 : 0x4000;
    private static final long BLKGETSIZE64 = 0x80081272L;
    private static final long BLKZEROOUT = 0x127fL;
    /** O_DIRECT needs buffers, offsets and lengths aligned to the logical block size; 4 KiB covers all. */
    private static final int DIRECT_ALIGN = 4096;

    private final LibC libc;
    private final Runtime runtime;
    private final Path path;
    private final boolean direct;
    private int fd;

    private BlockDevice(LibC libc, Path path, boolean direct, int fd) {
        this.libc = libc;
        this.runtime = Runtime.getRuntime(libc);
        this.path = path;
        this.direct = direct;
        this.fd = fd;
    }

    /**
     * Opens {@code path} read-write with {@code O_EXCL}, and {@code O_DIRECT} when asked.
     *
     * @throws NdctlException with -EBUSY when the device is mounted or otherwise held
     */
    public static BlockDevice openExclusive(Path path, boolean direct) throws NdctlException {
        LibC libc = NativeLibraries.libc();
        byte[] p = (path.toString() + '\0').getBytes(StandardCharsets.UTF_8);
        int flags = O_RDWR | O_EXCL | O_CLOEXEC | (direct ? O_DIRECT : 0);
        int fd = libc.open(p, flags, 0);
        if (fd < 0) {
            int errno = LastError.getLastError(Runtime.getRuntime(libc));
            String hint = errno == Errno.EBUSY ? "the device is mounted or open" : null;
            throw new NdctlException("open", path.toString(), -errno, hint);
        }
        return new BlockDevice(libc, path, direct, fd);
    }

    public Path path() {
        return path;
    }

    /** Size in bytes (BLKGETSIZE64). */
    public long size() throws NdctlException {
        long[] out = new long[1];
        if (libc.ioctl(checkOpen(), BLKGETSIZE64, out) < 0) {
            throw failure("ioctl(BLKGETSIZE64)");
        }
        return out[0];
    }

    /** Whether {@code length} bytes at {@code offset} read as zero. Both must be multiples of 4 KiB. */
    public boolean isZero(long offset, int length) throws NdctlException {
        requireAligned(offset, length);
        Pointer buf = alignedBuffer(length);
        long done = 0;
        while (done < length) {
            long n = libc.pread(checkOpen(), buf.slice(done), length - done, offset + done);
            if (n < 0) {
                throw failure("pread");
            }
            if (n == 0) {
                throw new NdctlException("pread", path.toString(), -Errno.EIO, "unexpected end of device at " + (offset + done));
            }
            done += n;
        }
        byte[] data = new byte[length];
        buf.get(0, data, 0, length);
        for (byte b : data) {
            if (b != 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * Writes zeros over {@code [offset, offset + length)} in chunks of {@code chunkBytes}, reporting
     * the bytes written so far after each chunk. Offsets and lengths must be multiples of 4 KiB
     * when the device was opened with O_DIRECT.
     */
    public void writeZeros(long offset, long length, int chunkBytes, LongConsumer progress) throws NdctlException {
        if (direct) {
            requireAligned(offset, length);
            requireAligned(0, chunkBytes);
        }
        Pointer zeros = alignedBuffer(chunkBytes);
        long done = 0;
        while (done < length) {
            long n = libc.pwrite(checkOpen(), zeros, Math.min(chunkBytes, length - done), offset + done);
            if (n <= 0) {
                throw failure("pwrite");
            }
            done += n;
            progress.accept(done);
        }
    }

    /** Lets the kernel zero {@code [offset, offset + length)} (BLKZEROOUT); 512-byte aligned. */
    public void zeroOut(long offset, long length) throws NdctlException {
        if (offset % 512 != 0 || length % 512 != 0) {
            throw new IllegalArgumentException("BLKZEROOUT needs 512-byte alignment: " + offset + "+" + length);
        }
        long[] range = {offset, length};
        if (libc.ioctl(checkOpen(), BLKZEROOUT, range) < 0) {
            throw failure("ioctl(BLKZEROOUT)");
        }
    }

    public void sync() throws NdctlException {
        if (libc.fsync(checkOpen()) < 0) {
            throw failure("fsync");
        }
    }

    @Override
    public void close() {
        if (fd >= 0) {
            libc.close(fd);
            fd = -1;
        }
    }

    /** Zeroes the first {@code bytes} of {@code path} unless they already are zero; true if it wrote. */
    static boolean zeroHead(Path path, int bytes) throws NdctlException {
        try (BlockDevice dev = openExclusive(path, true)) {
            if (dev.isZero(0, bytes)) {
                return false;
            }
            dev.writeZeros(0, bytes, bytes, done -> { });
            dev.sync();
            return true;
        }
    }

    private Pointer alignedBuffer(long length) {
        Pointer raw = Memory.allocateDirect(runtime, Math.toIntExact(length + DIRECT_ALIGN), true);
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

    private NdctlException failure(String call) {
        return new NdctlException(call, path.toString(), -LastError.getLastError(runtime), null);
    }

    private static void requireAligned(long offset, long length) {
        if (offset % DIRECT_ALIGN != 0 || length % DIRECT_ALIGN != 0) {
            throw new IllegalArgumentException("O_DIRECT I/O needs 4 KiB alignment: " + offset + "+" + length);
        }
    }
}
