package dev.pmemcsi.pmemnative;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class CommandRunnerTest {

    private final CommandRunner runner = new CommandRunner();

    private static List<String> sh(String script) {
        return List.of("/bin/sh", "-c", script);
    }

    @Test
    void keepsStdoutAndStderrApartAndReportsTheExitCode() throws Exception {
        CommandRunner.Result r = runner.runAllowingFailure(sh("echo out; echo err >&2; exit 3"), Duration.ofSeconds(10));
        assertEquals(3, r.exitCode());
        assertEquals("out\n", r.stdout());
        assertEquals("err\n", r.stderr());
    }

    @Test
    void failsWithStderrUnlessTheToolExitsZero() {
        CommandFailedException e = assertThrows(CommandFailedException.class,
                () -> runner.run(sh("echo broken >&2; exit 1"), Duration.ofSeconds(10)));
        assertTrue(e.getMessage().contains("broken"), e.getMessage());
    }

    @Test
    void drainsBothPipesWhileTheToolWritesMoreThanAPipeHolds() throws Exception {
        // 256 KiB to each stream, stderr first: a tool blocked on a full stderr pipe while its
        // caller waits for stdout would never exit.
        String script = "head -c 262144 /dev/zero | tr '\\0' e >&2; head -c 262144 /dev/zero | tr '\\0' o; echo done >&2";
        CommandRunner.Result r = runner.runAllowingFailure(sh(script), Duration.ofSeconds(30));
        assertEquals(0, r.exitCode());
        assertEquals(64 * 1024, r.stdout().length(), "the capture stops at 64 KiB");
        assertEquals(64 * 1024, r.stderr().length());
        assertTrue(r.stdout().chars().allMatch(c -> c == 'o'));
    }

    @Test
    void readsOutputWrittenJustBeforeExit() throws Exception {
        for (int i = 0; i < 20; i++) {
            CommandRunner.Result r = runner.runAllowingFailure(sh("printf 'last %s' " + i), Duration.ofSeconds(10));
            assertEquals("last " + i, r.stdout());
        }
    }

    @Test
    void killsAToolThatOverrunsItsTimeout() {
        long t0 = System.nanoTime();
        CommandFailedException e = assertThrows(CommandFailedException.class,
                () -> runner.runAllowingFailure(sh("exec sleep 30"), Duration.ofMillis(300)));
        assertTrue(e.getMessage().contains("timed out"), e.getMessage());
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(10));
    }

    @Test
    void passesTheExtraEnvironment() throws Exception {
        CommandRunner.Result r = runner.runAllowingFailure(sh("echo $PMEM_TEST_VAR"), Map.of("PMEM_TEST_VAR", "x1"),
                Duration.ofSeconds(10));
        assertEquals("x1\n", r.stdout());
    }

    @Test
    void startsNoThreadOfItsOwnToReadTheOutput() throws Exception {
        // Every concurrent mkfs or mount would otherwise cost one or two threads (stacks, thread
        // start) for a few hundred bytes of output.
        CompletableFuture<CommandRunner.Result> running = new CompletableFuture<>();
        Thread caller = new Thread(() -> {
            try {
                running.complete(runner.runAllowingFailure(sh("echo started; sleep 1"), Duration.ofSeconds(10)));
            } catch (Exception e) {
                running.completeExceptionally(e);
            }
        }, "command-caller");
        caller.start();
        Thread.sleep(500);
        List<String> readers = new ArrayList<>();
        for (Map.Entry<Thread, StackTraceElement[]> t : Thread.getAllStackTraces().entrySet()) {
            if (t.getKey() == caller) {
                continue;
            }
            for (StackTraceElement frame : t.getValue()) {
                String c = frame.getClassName();
                if (c.equals(CommandRunner.class.getName()) || c.startsWith(CommandRunner.class.getName() + "$")) {
                    readers.add(t.getKey().getName());
                    break;
                }
            }
        }
        assertEquals(List.of(), readers, "threads other than the caller inside CommandRunner");
        assertEquals("started\n", running.get(10, TimeUnit.SECONDS).stdout());
    }
}
