package dev.pmemcsi.device;

/** The volume is recorded but its device has disappeared. */
public class DeviceGoneException extends DeviceException {
    private static final long serialVersionUID = 1L;

    public DeviceGoneException(String message) {
        super(message);
    }

    public DeviceGoneException(String message, Throwable cause) {
        super(message, cause);
    }
}
