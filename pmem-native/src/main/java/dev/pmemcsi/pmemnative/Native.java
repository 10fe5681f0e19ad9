package dev.pmemcsi.pmemnative;

import java.util.Optional;
import java.util.function.LongSupplier;
import jnr.constants.platform.Errno;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;
import jnr.posix.POSIX;
import jnr.posix.POSIXFactory;

/**
 * The one place where native libraries are loaded. The handles are immutable, thread-safe
 * process-wide singletons: libc is a property of the process, not of a caller.
 */
public final class Native {

    private static final LibC LIBC = LibraryLoader.create(LibC.class).load("c");
    private static final POSIX POSIX_API = POSIXFactory.getNativePOSIX();

    /** Loaded on first use, since only the probe of a device's content needs it. */
    private static final class Blkid {
        static final Optional<LibBlkid> LIB = load();

        private static Optional<LibBlkid> load() {
            try {
                return Optional.of(LibraryLoader.create(LibBlkid.class).failImmediately().load("blkid"));
            } catch (LinkageError | RuntimeException e) {
                return Optional.empty();
            }
        }
    }

    private Native() {}

    public static LibC libc() {
        return LIBC;
    }

    /** libblkid, or empty where it is not installed (util-linux's library, on every Linux with mount). */
    public static Optional<LibBlkid> libblkid() {
        return Blkid.LIB;
    }

    public static POSIX posix() {
        return POSIX_API;
    }

    public static Runtime runtime() {
        return Runtime.getRuntime(LIBC);
    }

    /** errno of the last failed call on this thread. */
    public static int errno() {
        return runtime().getLastError();
    }

    /**
     * Runs {@code call} again for as long as it fails with EINTR, and returns its first other
     * result; on any other failure errno is left as the call set it. A signal delivered to the JVM
     * (a profiler, a debugger attaching) must not turn an I/O call into a failed operation; this is
     * the one place that decides so, for every call that a signal can interrupt.
     */
    public static long restartOnEintr(LongSupplier call) {
        long rc;
        do {
            rc = call.getAsLong();
        } while (rc < 0 && errno() == Errno.EINTR.intValue());
        return rc;
    }

    /** Throws a {@link NativeException} for {@code call} when {@code rc} is negative. */
    public static int check(int rc, String call) throws NativeException {
        if (rc < 0) {
            throw new NativeException(call, errno());
        }
        return rc;
    }
}
