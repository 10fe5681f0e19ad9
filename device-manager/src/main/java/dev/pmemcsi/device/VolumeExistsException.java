package dev.pmemcsi.device;

/** A volume with this ID exists with another size or mode. */
public class VolumeExistsException extends DeviceException {
    private static final long serialVersionUID = 1L;

    public VolumeExistsException(String message) {
        super(message);
    }

    public VolumeExistsException(String message, Throwable cause) {
        super(message, cause);
    }
}
