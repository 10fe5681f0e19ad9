package dev.pmemcsi.device;

/** The volume ID is unknown to the backend. */
public class VolumeNotFoundException extends DeviceException {
    private static final long serialVersionUID = 1L;

    public VolumeNotFoundException(String message) {
        super(message);
    }

    public VolumeNotFoundException(String message, Throwable cause) {
        super(message, cause);
    }
}
