package dev.pmemcsi.device.emulated;

import dev.pmemcsi.device.FaultPoints;
import dev.pmemcsi.pmemnative.NativeException;
import dev.pmemcsi.pmemnative.RegularFile;
import java.nio.file.Path;
import jnr.constants.platform.Errno;
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
        try (RegularFile f = RegularFile.open(file)) {
            long start = System.nanoTime();
            long lastLog = start;
            int lastDecile = 0;
            for (long done = 0; done < length; ) {
                long n = Math.min(CHUNK, length - done);
                switch (method) {
                    case PUNCH_HOLE -> f.punchHole(offset + done, n);
                    case ZERO_RANGE -> f.zeroRange(offset + done, n);
                    case WRITE_ZEROES -> f.writeZeros(offset + done, n, ZERO_BUFFER);
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
            f.fsync();
            LOG.info("{}: erased {} bytes at {} of {} by {} in {} ms", what, length, offset, file.getFileName(),
                    method, (System.nanoTime() - start) / 1_000_000);
            return method;
        }
    }
}
