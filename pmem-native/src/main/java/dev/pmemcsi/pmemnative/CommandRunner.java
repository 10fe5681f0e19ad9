package dev.pmemcsi.pmemnative;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
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
    private static final long MAX_PAUSE_MILLIS = 16;

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
        // Both pipes are drained by the calling thread, which looks at them whenever it wakes:
        // a reader thread per pipe (what CompletableFuture gives on a 2-core node: a new thread
        // per task) doubled the threads of every concurrent mkfs or mount for output that is
        // nearly always a few hundred bytes. waitFor returns the moment the tool exits, so the
        // pauses only bound how long output can wait in a pipe (64 KiB) while the tool runs.
        Capture out = new Capture();
        Capture err = new Capture();
        long deadline = start + timeout.toNanos();
        try (InputStream stdout = p.getInputStream(); InputStream stderr = p.getErrorStream()) {
            long pauseMillis = 1;
            while (true) {
                boolean read = out.readAvailable(stdout) | err.readAvailable(stderr);
                if (System.nanoTime() - deadline >= 0) {
                    p.destroyForcibly();
                    p.waitFor();
                    throw new CommandFailedException(argv, "timed out after " + timeout.toSeconds() + " s", null);
                }
                if (read) {
                    pauseMillis = 1;
                } else if (p.waitFor(Math.min(pauseMillis, Math.max(1, (deadline - System.nanoTime()) / 1_000_000)),
                        TimeUnit.MILLISECONDS)) {
                    break;
                } else {
                    pauseMillis = Math.min(pauseMillis * 2, MAX_PAUSE_MILLIS);
                }
            }
            // The tool has exited; what it wrote last is read to the end (a process it started
            // and left running could hold a pipe open, exactly as with one reader per pipe).
            out.readToEnd(stdout);
            err.readToEnd(stderr);
            Result r = new Result(p.exitValue(), out.text(), err.text());
            LOG.debug("{} exited {} after {} ms", argv, r.exitCode(), (System.nanoTime() - start) / 1_000_000);
            return r;
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new CommandFailedException(argv, "interrupted", e);
        } catch (IOException e) {
            p.destroyForcibly();
            throw new CommandFailedException(argv, "cannot read its output", e);
        }
    }

    /** What one pipe delivered, up to {@link #MAX_CAPTURE} bytes; the rest is read and dropped. */
    private static final class Capture {
        private final ByteArrayOutputStream buf = new ByteArrayOutputStream();
        private final byte[] chunk = new byte[4096];

        /** Reads what the pipe holds now, without blocking; true when it held anything. */
        boolean readAvailable(InputStream in) throws IOException {
            boolean any = false;
            int available;
            while ((available = in.available()) > 0) {
                int n = in.read(chunk, 0, Math.min(available, chunk.length));
                if (n <= 0) {
                    break;
                }
                keep(n);
                any = true;
            }
            return any;
        }

        void readToEnd(InputStream in) throws IOException {
            int n;
            while ((n = in.read(chunk)) >= 0) {
                keep(n);
            }
        }

        private void keep(int n) {
            if (buf.size() < MAX_CAPTURE) {
                buf.write(chunk, 0, Math.min(n, MAX_CAPTURE - buf.size()));
            }
        }

        String text() {
            return buf.toString(StandardCharsets.UTF_8);
        }
    }
}
