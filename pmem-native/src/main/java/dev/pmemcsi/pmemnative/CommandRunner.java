package dev.pmemcsi.pmemnative;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs external tools (mkfs, blkid, losetup …) from an argument vector. There is no shell, so no
 * argument is ever interpreted: a volume name cannot become a command.
 */
public class CommandRunner {

    private static final Logger LOG = LoggerFactory.getLogger(CommandRunner.class);
    private static final int MAX_CAPTURE = 64 * 1024;

    /** What a finished tool printed. */
    public record Result(int exitCode, String stdout, String stderr) {}

    /** Runs the tool and fails unless it exits 0. */
    public Result run(List<String> argv, Duration timeout) throws CommandFailedException {
        Result r = runAllowingFailure(argv, timeout);
        if (r.exitCode() != 0) {
            throw new CommandFailedException(argv, r.exitCode(), r.stderr());
        }
        return r;
    }

    /** Runs the tool and returns whatever exit code it had; fails only if it cannot run. */
    public Result runAllowingFailure(List<String> argv, Duration timeout) throws CommandFailedException {
        return runAllowingFailure(argv, Map.of(), timeout);
    }

    /**
     * As {@link #runAllowingFailure(List, Duration)}, with {@code environment} added to the
     * driver's own: for tools whose behaviour only the environment switches (lvm's udev use).
     */
    public Result runAllowingFailure(List<String> argv, Map<String, String> environment, Duration timeout)
            throws CommandFailedException {
        long start = System.nanoTime();
        Process p;
        try {
            ProcessBuilder pb = new ProcessBuilder(argv).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            pb.environment().putAll(environment);
            p = pb.start();
        } catch (IOException e) {
            throw new CommandFailedException(argv, "cannot start: " + e.getMessage(), e);
        }
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> drain(p.getInputStream()));
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> drain(p.getErrorStream()));
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                p.waitFor();
                throw new CommandFailedException(argv, "timed out after " + timeout.toSeconds() + " s", null);
            }
            Result r = new Result(p.exitValue(), out.get(), err.get());
            LOG.debug("{} exited {} after {} ms", argv, r.exitCode(), (System.nanoTime() - start) / 1_000_000);
            return r;
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new CommandFailedException(argv, "interrupted", e);
        } catch (ExecutionException e) {
            throw new CommandFailedException(argv, "cannot read its output", e.getCause());
        }
    }

    private static String drain(InputStream in) {
        try (in) {
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            byte[] chunk = new byte[8192];
            int n;
            while ((n = in.read(chunk)) >= 0) {
                if (buf.size() < MAX_CAPTURE) {
                    buf.write(chunk, 0, Math.min(n, MAX_CAPTURE - buf.size()));
                }
            }
            return buf.toString(StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
