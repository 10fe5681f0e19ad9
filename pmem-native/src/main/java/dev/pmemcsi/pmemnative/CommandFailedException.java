package dev.pmemcsi.pmemnative;

import java.util.List;

/** An external tool exited non-zero, timed out, or could not start. Carries its stderr. */
public class CommandFailedException extends Exception {
    private static final long serialVersionUID = 1L;

    private final List<String> argv;
    private final int exitCode;
    private final String stderr;

    public CommandFailedException(List<String> argv, int exitCode, String stderr) {
        super(argv.get(0) + " failed with exit code " + exitCode + (stderr.isBlank() ? "" : ": " + stderr.strip()));
        this.argv = List.copyOf(argv);
        this.exitCode = exitCode;
        this.stderr = stderr;
    }

    public CommandFailedException(List<String> argv, String problem, Throwable cause) {
        super(argv.get(0) + ": " + problem, cause);
        this.argv = List.copyOf(argv);
        this.exitCode = -1;
        this.stderr = "";
    }

    public List<String> argv() {
        return argv;
    }

    /** The exit code, or -1 when the tool did not run to completion. */
    public int exitCode() {
        return exitCode;
    }

    public String stderr() {
        return stderr;
    }
}
