package dev.pmemcsi.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The driver as operators run it: a separate process started by {@code bin/pmem-csi-driver} (so
 * with the launcher's JVM flags and class-data archive), on the emulated backend, serving CSI on a
 * Unix socket in a workspace. Its log goes to a file the scenarios read figures from.
 */
final class DriverProcess implements AutoCloseable {

    /** How the JVM is started: which class-data sharing, which extra flags. */
    record Jvm(String name, String cds, String javaOpts) {
        /** The launcher's defaults, with the AppCDS archive when one was built. */
        static final Jvm DEFAULT = new Jvm("launcher defaults + AppCDS", null, "");
        static final Jvm JDK_CDS = new Jvm("launcher defaults, JDK CDS only", "none", "");
        static final Jvm NO_CDS = new Jvm("launcher defaults, no CDS (-Xshare:off)", "none", "-Xshare:off");
    }

    private static final Pattern READY_LOG = Pattern.compile("ready on node .* after (\\d+) ms");

    private final Process process;
    private final Path log;
    private final Path socket;
    private final long startNanos;

    private DriverProcess(Process process, Path log, Path socket, long startNanos) {
        this.process = process;
        this.log = log;
        this.socket = socket;
        this.startNanos = startNanos;
    }

    /** Starts the driver; the clock of {@link #awaitReady} starts just before the process does. */
    static DriverProcess start(Path repo, Workspace ws, String regions, Jvm jvm, String... extraArgs) throws IOException {
        // In a directory of its own: the driver refuses to stage or publish inside its socket dir.
        Path socket = ws.resolve("sock/csi.sock");
        Path log = ws.resolve("driver.log");
        List<String> argv = new ArrayList<>(List.of(repo.resolve("bin/pmem-csi-driver").toString(),
                "--device-manager", "emulated", "--emulated-regions", regions,
                "--state-dir", ws.resolve("state").toString(), "--kubelet-dir", ws.kubelet().toString(),
                "--endpoint", "unix://" + socket,
                "--node-id", "bench-node", "--log-level", "info"));
        argv.addAll(List.of(extraArgs));
        ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(log.toFile());
        Map<String, String> env = pb.environment();
        env.remove("JAVA_OPTS");
        env.remove("PMEM_CSI_CDS");
        if (jvm.cds() != null) {
            env.put("PMEM_CSI_CDS", jvm.cds());
        }
        if (!jvm.javaOpts().isBlank()) {
            env.put("JAVA_OPTS", jvm.javaOpts());
        }
        long t0 = System.nanoTime();
        Process p = pb.start();
        return new DriverProcess(p, log, socket, t0);
    }

    String endpoint() {
        return "unix://" + socket;
    }

    long pid() {
        return process.pid();
    }

    ProcStatus status() {
        return ProcStatus.of(process.pid());
    }

    /** A driver that answered Probe ready: how long that took from process start, and the client that asked. */
    record Ready(double millis, CsiClient client) {}

    /**
     * Waits until Probe answers ready, polling every millisecond for the socket and then every 2 ms
     * for readiness. The returned client stays open; the caller closes it.
     */
    Ready awaitReady(Duration timeout) throws IOException, InterruptedException {
        long deadline = startNanos + timeout.toNanos();
        while (!Files.exists(socket)) {
            checkAlive(deadline);
            Thread.sleep(1);
        }
        CsiClient client = CsiClient.open(endpoint());
        try {
            while (true) {
                checkAlive(deadline);
                if (client.probeReady()) {
                    return new Ready((System.nanoTime() - startNanos) / 1e6, client);
                }
                Thread.sleep(2);
            }
        } catch (IOException | InterruptedException | RuntimeException e) {
            client.close();
            throw e;
        }
    }

    private void checkAlive(long deadline) throws IOException {
        if (!process.isAlive()) {
            throw new IOException("the driver exited with " + process.exitValue() + ":\n" + logText());
        }
        if (System.nanoTime() > deadline) {
            throw new IOException("the driver was not ready in time:\n" + logText());
        }
    }

    /** The start-up time the driver logs itself: device layer and services, without the JVM's own start. */
    double loggedReadyMillis() throws IOException {
        Matcher m = READY_LOG.matcher(logText());
        return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
    }

    String logText() throws IOException {
        return Files.exists(log) ? Files.readString(log) : "";
    }

    /** SIGTERM, as kubelet stops a pod; then waits for the drain. */
    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
