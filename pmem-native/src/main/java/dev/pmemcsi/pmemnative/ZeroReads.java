package dev.pmemcsi.pmemnative;

import jnr.constants.platform.Errno;
import jnr.ffi.Pointer;

/** The pread loop that block devices and regular files share to tell whether a range reads as zeroes. */
final class ZeroReads {

    private ZeroReads() {}

    /**
     * Whether {@code [offset, offset + length)} reads as zeroes, read into {@code buf} (of
     * {@code bufBytes}) a buffer at a time, restarting on EINTR and continuing short reads. The
     * end of the file either reads as zeroes ({@code endIsZero}, a sparse file's tail) or is an
     * error (EIO, a device that is shorter than it claims). Where the end is an error the whole
     * range is read whatever it holds, so that a short device is always reported; elsewhere the
     * first byte that is not zero ends the scan.
     */
    static boolean isZero(int fd, String target, Pointer buf, int bufBytes, long offset, long length, boolean endIsZero)
            throws NativeException {
        byte[] data = new byte[bufBytes];
        boolean zero = true;
        long done = 0;
        while (done < length) {
            long count = Math.min(bufBytes, length - done);
            long at = offset + done;
            long n = Native.restartOnEintr(() -> Native.libc().pread(fd, buf, count, at));
            if (n < 0) {
                throw new NativeException(call(target, at, length - done), Native.errno());
            }
            if (n == 0) {
                if (endIsZero) {
                    return zero;
                }
                throw new NativeException(call(target, at, length - done), Errno.EIO.intValue(),
                        "unexpected end of device at " + at);
            }
            buf.get(0, data, 0, (int) n);
            for (int i = 0; i < n && zero; i++) {
                zero = data[i] == 0;
            }
            if (!zero && endIsZero) {
                return false;
            }
            done += n;
        }
        return zero;
    }

    private static String call(String target, long offset, long length) {
        return "pread(" + target + ", " + offset + "+" + length + ")";
    }
}
