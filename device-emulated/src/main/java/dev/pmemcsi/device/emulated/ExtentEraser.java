package dev.pmemcsi.device.emulated;

import dev.pmemcsi.device.FaultPoints;
import dev.pmemcsi.nativeio.LibC;
import dev.pmemcsi.nativeio.Native;
import dev.pmemcsi.nativeio.NativeException;
import dev.pmemcsi.nativeio.OpenFlags;
import java.nio.file.Path;
import jnr.constants.platform.Errno;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Zeroes an extent of a region file after its loop device is gone.
 *
 * <p>{@code fallocate(FALLOC_FL_ZERO_RANGE)} is the method of choice: it was the fastest of the
 * correct methods measured (see docs/emulated-mode.md), because the filesystem only marks the
 * blocks unwritten. Where the filesystem lacks it (btrfs, tmpfs) a hole is punched instead, and
 * where that fails too, zeroes are written. The file is flushed afterwards, so that a power loss
 * cannot bring the old bytes back into an extent the table already lists as free.
 */
final class ExtentEraser {

    /** In order of preference. */
    enum Method { ZERO_RANGE, PUNCH_HOLE, WRITE_ZEROES }

    private static final Logger LOG = LoggerFactory.getLogger(ExtentEraser.class);

    /** Test-only crash point (see FaultPoints): after an erase's first chunk, before the rest. */
    static final String FAULT_ERASE_PARTIAL = "erase.partial";

    private static final int FALLOC_FL_KEEP_SIZE = 0x01;
    private static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    private static final int FALLOC_FL_ZERO_RANGE = 0x10;

    /** Work is done in chunks so that progress of long erases can be reported. */
    private static final long CHUNK = 256L * 1024 * 1024;
    private static final int ZERO_BUFFER = 4 * 1024 * 1024;
    private static final long PROGRESS_INTERVAL_NANOS = 5_000_000_000L;
    /** Shorter erases only log when done. */
    private static final long LOG_PROGRESS_FROM = 1024L * 1024 * 1024;

    /** Zeroes {@code [offset, offset + length)} of {@code file} and flushes it; returns the method that worked. */
    Method erase(Path file, long offset, long length, String what) throws NativeException {
        NativeException unsupported = null;
        for (Method m : Method.values()) {
            try {
                return erase(file, offset, length, what, m);
            } catch (NativeException e) {
                if (!e.is(Errno.EOPNOTSUPP) || m == Method.WRITE_ZEROES) {
                    throw e;
                }
                LOG.debug("{}: {} not supported on {}, trying the next method", what, m, file);
                unsupported = e;
            }
        }
        throw unsupported;
    }

    Method erase(Path file, long offset, long length, String what, Method method) throws NativeException {
        LibC libc = Native.libc();
        int fd = Native.check(libc.open(file.toString(), OpenFlags.O_RDWR | OpenFlags.O_NOFOLLOW | OpenFlags.O_CLOEXEC, 0), "open(" + file + ")");
        Pointer zeroes = method == Method.WRITE_ZEROES ? Memory.allocateDirect(Native.runtime(), ZERO_BUFFER, true) : null;
        try {
            long start = System.nanoTime();
            long lastLog = start;
            int lastDecile = 0;
            for (long done = 0; done < length; ) {
                long n = Math.min(CHUNK, length - done);
                switch (method) {
                    case PUNCH_HOLE -> Native.check(libc.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset + done, n),
                            "fallocate(" + file + ", PUNCH_HOLE, " + (offset + done) + "+" + n + ")");
                    case ZERO_RANGE -> Native.check(libc.fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset + done, n),
                            "fallocate(" + file + ", ZERO_RANGE, " + (offset + done) + "+" + n + ")");
                    case WRITE_ZEROES -> writeZeroes(fd, file, zeroes, offset + done, n);
                }
                done += n;
                if (done < length && done == n) {
                    FaultPoints.reached(FAULT_ERASE_PARTIAL);
                }
                long now = System.nanoTime();
                int decile = (int) (done * 10 / length);
                if (length >= LOG_PROGRESS_FROM && done < length && (decile > lastDecile || now - lastLog > PROGRESS_INTERVAL_NANOS)) {
                    LOG.info("{}: erased {}% ({} of {} bytes)", what, done * 100 / length, done, length);
                    lastDecile = decile;
                    lastLog = now;
                }
            }
            Native.check(libc.fsync(fd), "fsync(" + file + ")");
            LOG.info("{}: erased {} bytes at {} of {} by {} in {} ms", what, length, offset, file.getFileName(),
                    method, (System.nanoTime() - start) / 1_000_000);
            return method;
        } finally {
            libc.close(fd);
        }
    }

    private static void writeZeroes(int fd, Path file, Pointer zeroes, long offset, long length) throws NativeException {
        LibC libc = Native.libc();
        long done = 0;
        while (done < length) {
            long n = Math.min(ZERO_BUFFER, length - done);
            long written = libc.pwrite(fd, zeroes, n, offset + done);
            if (written < 0) {
                int errno = Native.errno();
                if (errno == Errno.EINTR.intValue()) {
                    continue;
                }
                throw new NativeException("pwrite(" + file + ", " + (offset + done) + "+" + n + ")", errno);
            }
            done += written;
        }
    }
}
