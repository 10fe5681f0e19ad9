package dev.pmemcsi.driver;

/**
 * A ListVolumes {@code starting_token} this driver did not issue. The RPC edge answers ABORTED, as
 * the CSI spec prescribes for an invalid token: the caller starts the listing again.
 */
public class InvalidStartingTokenException extends Exception {
    private static final long serialVersionUID = 1L;

    public InvalidStartingTokenException(String message) {
        super(message);
    }
}
