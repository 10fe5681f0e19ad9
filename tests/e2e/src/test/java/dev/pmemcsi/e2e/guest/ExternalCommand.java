package dev.pmemcsi.e2e.guest;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Runs one external tool (ndctl, mkfs, mount, xfs_io) with an argument vector and captures what it
 * printed, so a failing assertion can show the tool's own words. Nothing goes through a shell.
 */
final class ExternalCommand {

    /** What a finished command left behind. */
    record Result(List<String> argv, int exitStatus, String stdout, String stderr) {
        boolean succeeded() {
            return exitStatus == 0;
        }

        String describe() {
            return String.join(" ", argv) + " exited " + exitStatus
                    + "\n--- stdout ---\n" + stdout + "--- stderr ---\n" + stderr;
        }
    }

    /** A command that exited non-zero where success was required. */
    static final class CommandFailedException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final transient Result result;

        CommandFailedException(Result result) {
            super(result.describe());
            this.result = result;
        }

        Result result() {
            return result;
        }
    }

    // Generous: the guest runs under TCG, where one ndctl call can take a second.
    private static final Duration TIMEOUT = Duration.ofMinutes(2);

    private ExternalCommand() {
    }

    static Result run(String... argv) {
        List<String> args = List.of(argv);
        ProcessBuilder pb = new ProcessBuilder(args).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        try {
            Process p = pb.start();
            CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> drain(p.getInputStream()));
            CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> drain(p.getErrorStream()));
            if (!p.waitFor(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException(String.join(" ", args) + " did not finish within " + TIMEOUT);
            }
            return new Result(args, p.exitValue(), out.join(), err.join());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + args.get(0), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running " + args.get(0), e);
        }
    }

    /** Runs the command and returns its stdout, or throws with everything it printed. */
    static String check(String... argv) {
        Result r = run(argv);
        if (!r.succeeded()) {
            throw new CommandFailedException(r);
        }
        return r.stdout();
    }

    private static String drain(InputStream in) {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
