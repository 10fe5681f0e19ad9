package dev.pmemcsi.device;

/** No region has a free extent large enough for the volume. */
public class NoSpaceException extends DeviceException {
    private static final long serialVersionUID = 1L;

    public NoSpaceException(String message) {
        super(message);
    }

    public NoSpaceException(String message, Throwable cause) {
        super(message, cause);
    }
}
