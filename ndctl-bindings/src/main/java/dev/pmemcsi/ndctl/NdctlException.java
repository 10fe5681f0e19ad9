package dev.pmemcsi.ndctl;

/**
 * A libndctl (or block-device) call failed. Carries the call, the object it was applied to and the
 * negative errno, formatted as {@code ndctl_pfn_enable(pfn0.1): ENXIO (No such device or address)}.
 */
public class NdctlException extends Exception {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final String object;
    private final int errno;

    /**
     * @param call   the C function, e.g. {@code ndctl_pfn_enable}
     * @param object the device it was called on, e.g. {@code pfn0.1}; may be empty
     * @param errno  the negative errno the call returned (positive values are negated)
     * @param detail extra context or a hint, or null
     */
    public NdctlException(String call, String object, int errno, String detail) {
        super(format(call, object, errno, detail));
        this.call = call;
        this.object = object == null ? "" : object;
        this.errno = -Math.abs(errno);
    }

    public NdctlException(String call, String object, int errno, String detail, Throwable cause) {
        this(call, object, errno, detail);
        initCause(cause);
    }

    /** For a failed enable: the kernel drops the reason and libndctl returns -ENXIO for all of them. */
    static NdctlException enableFailed(String call, String object, int rc) {
        String hint = Math.abs(rc) == Errno.ENXIO
                ? "the kernel refused to bind the device; its reason is in the kernel log (dmesg)"
                : null;
        return new NdctlException(call, object, rc, hint);
    }

    static String format(String call, String object, int errno, String detail) {
        StringBuilder sb = new StringBuilder(call);
        sb.append('(').append(object == null ? "" : object).append("): ").append(Errno.describe(errno));
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

    /** The negative errno, as libndctl returns it. */
    public int errno() {
        return errno;
    }

    public boolean isBusy() {
        return errno == -Errno.EBUSY;
    }
}
