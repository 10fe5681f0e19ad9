package dev.pmemcsi.pmemnative;

import java.util.function.LongConsumer;
import jnr.constants.platform.Errno;
import jnr.ffi.Pointer;

/** The pwrite loop that block devices and regular files share to write zeroes over a range. */
final class ZeroWrites {

    private ZeroWrites() {}

    /**
     * Writes {@code zeros} (of at least {@code chunkBytes}) over {@code [offset, offset + length)},
     * restarting on EINTR and continuing short writes, and reports the bytes written so far after
     * each write.
     */
    static void write(int fd, String target, Pointer zeros, int chunkBytes, long offset, long length,
            LongConsumer progress) throws NativeException {
        long done = 0;
        while (done < length) {
            long count = Math.min(chunkBytes, length - done);
            long at = offset + done;
            long n = Native.restartOnEintr(() -> Native.libc().pwrite(fd, zeros, count, at));
            if (n < 0) {
                throw new NativeException(call(target, at, count), Native.errno());
            }
            if (n == 0) {
                throw new NativeException(call(target, at, count), Errno.EIO.intValue(), "no progress at " + at);
            }
            done += n;
            progress.accept(done);
        }
    }

    private static String call(String target, long offset, long length) {
        return "pwrite(" + target + ", " + offset + "+" + length + ")";
    }
}
