package dev.pmemcsi.driver;

/**
 * A valid request that the node or the volume is not in a state to carry out: the volume is not
 * staged, the path holds something else, the device has gone. The RPC edge answers
 * FAILED_PRECONDITION with this message; the caller must change something before retrying.
 */
public class PreconditionFailedException extends Exception {
    private static final long serialVersionUID = 1L;

    public PreconditionFailedException(String message) {
        super(message);
    }

    public PreconditionFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}
