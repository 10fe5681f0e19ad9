package dev.pmemcsi.device.lvm;

import dev.pmemcsi.device.DeviceException;
import java.util.List;

/**
 * An lvm2 command failed: it exited non-zero, timed out, could not start, or printed a report that
 * cannot be read. Carries the command, its exit code and what it wrote to stderr, which is where
 * lvm explains itself.
 */
public class LvmException extends DeviceException {
    private static final long serialVersionUID = 1L;

    private final List<String> command;
    private final int exitCode;
    private final String stderr;

    public LvmException(List<String> command, int exitCode, String stderr, String message, Throwable cause) {
        super(message, cause);
        this.command = List.copyOf(command);
        this.exitCode = exitCode;
        this.stderr = stderr == null ? "" : stderr;
    }

    /** The argument vector, lvm's {@code --config} included. */
    public List<String> command() {
        return command;
    }

    /** The exit code, or -1 when the command did not run to completion. */
    public int exitCode() {
        return exitCode;
    }

    public String stderr() {
        return stderr;
    }
}
