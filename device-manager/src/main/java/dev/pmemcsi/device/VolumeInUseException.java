package dev.pmemcsi.device;

/** The volume's device is open or mounted, so it cannot be deleted. */
public class VolumeInUseException extends DeviceException {
    private static final long serialVersionUID = 1L;

    public VolumeInUseException(String message) {
        super(message);
    }

    public VolumeInUseException(String message, Throwable cause) {
        super(message, cause);
    }
}
