package dev.pmemcsi.ndctl;

import dev.pmemcsi.pmemnative.NativeException;
import jnr.constants.platform.Errno;

/**
 * A libndctl (or block-device) call failed. Carries the call, the object it was applied to and the
 * errno, formatted as {@code ndctl_pfn_enable(pfn0.1): ENXIO (No such device or address)}.
 *
 * <p>The errno is positive, as in {@link NativeException}. libndctl returns negative errno values;
 * {@link #returned} negates them once, where the binding reads the return code.
 */
public class NdctlException extends Exception {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final String object;
    private final int errno;

    /**
     * @param call   the C function, e.g. {@code ndctl_pfn_enable}
     * @param object the device it was called on, e.g. {@code pfn0.1}; may be empty
     * @param errno  the positive errno
     * @param detail extra context or a hint, or null
     */
    public NdctlException(String call, String object, int errno, String detail) {
        super(format(call, object, checkPositive(errno), detail));
        this.call = call;
        this.object = object == null ? "" : object;
        this.errno = errno;
    }

    public NdctlException(String call, String object, int errno, String detail, Throwable cause) {
        this(call, object, errno, detail);
        initCause(cause);
    }

    public NdctlException(String call, String object, Errno errno, String detail) {
        this(call, object, errno.intValue(), detail);
    }

    public NdctlException(String call, String object, Errno errno, String detail, Throwable cause) {
        this(call, object, errno.intValue(), detail, cause);
    }

    /** For a libndctl call that returned {@code rc}, a negative errno. */
    static NdctlException returned(String call, String object, int rc, String detail) {
        return new NdctlException(call, object, -rc, detail);
    }

    /** For a failed enable: the kernel drops the reason and libndctl returns -ENXIO for all of them. */
    static NdctlException enableFailed(String call, String object, int rc) {
        String hint = -rc == Errno.ENXIO.intValue()
                ? "the kernel refused to bind the device; its reason is in the kernel log (dmesg)"
                : null;
        return returned(call, object, rc, hint);
    }

    private static int checkPositive(int errno) {
        if (errno <= 0) {
            throw new IllegalArgumentException("errno must be positive, was " + errno);
        }
        return errno;
    }

    static String format(String call, String object, int errno, String detail) {
        StringBuilder sb = new StringBuilder(call);
        sb.append('(').append(object == null ? "" : object).append("): ").append(NativeException.describe(errno));
        if (detail != null && !detail.isEmpty()) {
            sb.append(": ").append(detail);
        }
        return sb.toString();
    }

    public String call() {
        return call;
    }

    public String object() {
        return object;
    }

    /** The positive errno value. */
    public int errno() {
        return errno;
    }

    public boolean is(Errno e) {
        return e.intValue() == errno;
    }

    public boolean isBusy() {
        return is(Errno.EBUSY);
    }
}
