package dev.pmemcsi.device;

/**
 * A device-layer failure. Subclasses say what kind; callers decide what it means for them
 * (the CSI layer maps each kind to a gRPC status code).
 */
public class DeviceException extends Exception {
    private static final long serialVersionUID = 1L;

    public DeviceException(String message) {
        super(message);
    }

    public DeviceException(String message, Throwable cause) {
        super(message, cause);
    }
}
