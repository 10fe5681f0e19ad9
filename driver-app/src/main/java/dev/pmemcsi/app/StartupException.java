package dev.pmemcsi.app;

/** The driver cannot start as configured; the message tells the operator what to fix. */
final class StartupException extends Exception {
    private static final long serialVersionUID = 1L;

    StartupException(String message) {
        super(message);
    }

    StartupException(String message, Throwable cause) {
        super(message, cause);
    }
}
