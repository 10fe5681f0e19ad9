package dev.pmemcsi.pmemnative;

import jnr.constants.platform.Errno;

/**
 * A failed system call. It carries the errno and the call, so callers decide what a failure means
 * (EBUSY on an exclusive open means "in use", ENOENT means "gone", and so on).
 */
public class NativeException extends Exception {
    private static final long serialVersionUID = 1L;

    private final int errno;
    private final String call;

    public NativeException(String call, int errno) {
        super(call + ": " + describe(errno));
        this.call = call;
        this.errno = errno;
    }

    public NativeException(String call, int errno, String detail) {
        super(call + ": " + describe(errno) + " (" + detail + ")");
        this.call = call;
        this.errno = errno;
    }

    /** The positive errno value. */
    public int errno() {
        return errno;
    }

    /** The call that failed, with its main argument, e.g. {@code open(/dev/loop3)}. */
    public String call() {
        return call;
    }

    public boolean is(Errno e) {
        return e.intValue() == errno;
    }

    /** "EBUSY (Device or resource busy)" for 16. */
    public static String describe(int errno) {
        Errno e = Errno.valueOf(errno);
        return e == null || e == Errno.__UNKNOWN_CONSTANT__ ? "errno " + errno : e.name() + " (" + e.description() + ")";
    }
}
