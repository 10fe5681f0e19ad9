package dev.pmemcsi.driver;

/**
 * Another operation holds the volume or the path this request needs. The RPC edge answers
 * ABORTED, which the CSI spec reserves for this case and on which callers retry with backoff.
 */
public class OperationInProgressException extends Exception {
    private static final long serialVersionUID = 1L;

    public OperationInProgressException(String message) {
        super(message);
    }

    /** The refusal of a second operation on volume {@code volumeId} while one runs. */
    public static OperationInProgressException onVolume(String volumeId) {
        return new OperationInProgressException("an operation for volume " + volumeId + " is already in progress");
    }
}
