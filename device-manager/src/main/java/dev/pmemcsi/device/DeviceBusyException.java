package dev.pmemcsi.device;

/** Another operation holds the device or region; retrying later may succeed. */
public class DeviceBusyException extends DeviceException {
    private static final long serialVersionUID = 1L;

    public DeviceBusyException(String message) {
        super(message);
    }

    public DeviceBusyException(String message, Throwable cause) {
        super(message, cause);
    }
}
