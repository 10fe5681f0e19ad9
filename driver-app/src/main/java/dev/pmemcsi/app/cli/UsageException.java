package dev.pmemcsi.app.cli;

/** A command line that names an unknown option, lacks a value or carries one that cannot be converted. */
public final class UsageException extends Exception {

    public UsageException(String message) {
        super(message);
    }
}
