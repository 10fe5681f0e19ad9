package dev.pmemcsi.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs the external tools the floors are made of, each with an argument vector, never a shell. */
public final class Commands {

    private Commands() {}

    /** Runs {@code argv}; returns its standard output; throws with the output when it fails. */
    public static String run(List<String> argv) throws IOException, InterruptedException {
        return run(argv, Map.of());
    }

    /** Runs {@code argv} with {@code environment} added to this process's. */
    public static String run(List<String> argv, Map<String, String> environment) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true);
        pb.environment().putAll(environment);
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", argv) + ": timed out");
        }
        String text = new String(out, StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            throw new IOException(String.join(" ", argv) + ": exit " + p.exitValue() + ": " + text.strip());
        }
        return text;
    }
}
