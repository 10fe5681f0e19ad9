package dev.pmemcsi.driver;

/** A request the driver refuses as given: becomes INVALID_ARGUMENT with this message. */
public class InvalidRequestException extends Exception {
    private static final long serialVersionUID = 1L;

    public InvalidRequestException(String message) {
        super(message);
    }
}
