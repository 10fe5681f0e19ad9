package dev.pmemcsi.device;

/** The size limit is below the smallest volume that satisfies the request. */
public class OutOfRangeException extends DeviceException {
    private static final long serialVersionUID = 1L;

    public OutOfRangeException(String message) {
        super(message);
    }

    public OutOfRangeException(String message, Throwable cause) {
        super(message, cause);
    }
}
