package dev.pmemcsi.reliability;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.pmemcsi.csi.v1.ProbeRequest;
import dev.pmemcsi.device.FaultPoints;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.lang.ProcessBuilder.Redirect;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The built driver ({@code driver-app/target/pmem-csi-driver.jar}) running as a child process on
 * the backend {@link BackendKind#current()} names, as kubelet would find it: a Unix socket, a state
 * dir, a node name, and the workspace's kubelet tree as its --kubelet-dir. With
 * {@code -Dpmemcsi.driver.image} the child is instead the container tool running the driver's
 * image as the DaemonSet does ({@link DaemonSetContainer}); it passes SIGTERM on to the driver and
 * exits with the driver's code.
 */
final class DriverProcess implements AutoCloseable {

    static final Path JAR = Path.of(System.getProperty("pmemcsi.driver.jar",
            "../../driver-app/target/pmem-csi-driver.jar")).toAbsolutePath().normalize();
    static final String NODE = "reliability-node";
    /**
     * Start-up takes some 20 s in the QEMU guest (TCG, where class loading alone is slow), and more
     * on a busy host; a second of it on a real machine.
     */
    static final long READY_TIMEOUT_S = 120;
    static final String REGIONS = "2Gi,2Gi";

    private final Workspace ws;
    private final Process process;
    private final Path log;
    private final DaemonSetContainer container;
    private Csi csi;

    private DriverProcess(Workspace ws, Process process, Path log, DaemonSetContainer container) {
        this.ws = ws;
        this.process = process;
        this.log = log;
        this.container = container;
    }

    /**
     * The launcher's AppCDS flags when bin/build-cds made an archive from the jars under test, so
     * that the drivers these tests start load their classes as a deployed driver does: on the
     * development host a driver (emulated backend) was ready in 0.54-0.62 s with the archive and in
     * 1.19-1.38 s without it, and class loading weighs more in the QEMU guest. A stale archive is
     * left out, as the launcher leaves it out; the JVM would refuse it anyway.
     */
    private static List<String> classDataSharing() throws IOException {
        Path jsa = JAR.resolveSibling(JAR.getFileName().toString().replaceFirst("\\.jar$", ".jsa"));
        if (!Files.isRegularFile(jsa)) {
            return List.of();
        }
        long archived = Files.getLastModifiedTime(jsa).toMillis();
        List<Path> jars = new ArrayList<>(List.of(JAR));
        Path lib = JAR.resolveSibling("lib");
        if (Files.isDirectory(lib)) {
            try (var listing = Files.list(lib)) {
                listing.filter(p -> p.toString().endsWith(".jar")).forEach(jars::add);
            }
        }
        for (Path jar : jars) {
            if (Files.getLastModifiedTime(jar).toMillis() > archived) {
                return List.of();
            }
        }
        return List.of("-XX:SharedArchiveFile=" + jsa, "-Xlog:cds=off,cds+dynamic=off");
    }

    /** Starts the driver and waits until Probe says ready. */
    static DriverProcess start(Workspace ws) throws Exception {
        return start(ws, null, List.of());
    }

    /**
     * @param crashAt a {@link FaultPoints} name at which the process halts, or null
     * @param extra   more driver flags
     */
    static DriverProcess start(Workspace ws, String crashAt, List<String> extra) throws Exception {
        DriverProcess d = launch(ws, crashAt, extra, List.of());
        d.awaitReady();
        return d;
    }

    /** Starts the driver without waiting for it. */
    static DriverProcess launch(Workspace ws, String crashAt, List<String> extra, List<String> jvmFlags)
            throws IOException {
        if (DaemonSetContainer.selected()) {
            return launchContainer(ws, crashAt, extra, jvmFlags);
        }
        return launch(ws, crashAt, extra, jvmFlags, ws.endpoint(), ws.root.resolve("driver.log"));
    }

    /**
     * Starts another driver over the same state dir as the workspace's, serving {@code endpoint}
     * and logging to {@code log}, without waiting for it.
     */
    static DriverProcess launchAnother(Workspace ws, String endpoint, List<String> extra, Path log) throws IOException {
        return launch(ws, null, extra, List.of(), endpoint, log);
    }

    private static DriverProcess launch(Workspace ws, String crashAt, List<String> extra, List<String> jvmFlags,
                                        String endpoint, Path log) throws IOException {
        assertTrue(Files.isRegularFile(JAR), JAR + " is missing; build it with mvn -pl driver-app -am package");
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-Xmx256m"));
        cmd.addAll(classDataSharing());
        cmd.addAll(jvmFlags);
        if (crashAt != null) {
            cmd.add("-D" + FaultPoints.PROPERTY + "=" + crashAt);
        }
        cmd.addAll(List.of("-jar", JAR.toString()));
        cmd.addAll(BackendKind.current().driverFlags());
        cmd.addAll(List.of("--state-dir", ws.state().toString(), "--kubelet-dir", ws.kubelet().toString(),
                "--endpoint", endpoint,
                "--node-id", NODE, "--log-level", "info", "--drain-timeout", "5s"));
        cmd.addAll(extra);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(Redirect.appendTo(log.toFile()));
        pb.environment().remove(FaultPoints.ENV);
        if (crashAt != null) {
            pb.environment().put(FaultPoints.ENV, "1");
        }
        Files.writeString(log, "---- " + String.join(" ", cmd) + "\n", java.nio.file.StandardOpenOption.CREATE,
                java.nio.file.StandardOpenOption.APPEND);
        return new DriverProcess(ws, pb.start(), log, null);
    }

    private static DriverProcess launchContainer(Workspace ws, String crashAt, List<String> extra, List<String> jvmFlags)
            throws IOException {
        if (crashAt != null || !extra.isEmpty() || !jvmFlags.isEmpty()) {
            throw new IllegalStateException("the image runs with the DaemonSet's arguments only; this test needs "
                    + "crash points or extra flags and runs on the jar");
        }
        DaemonSetContainer container = DaemonSetContainer.forWorkspace(ws);
        Path log = ws.root.resolve("driver.log");
        Files.writeString(log, "---- " + String.join(" ", container.command()) + "\n",
                java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
        container.prepareHost();
        ProcessBuilder pb = new ProcessBuilder(container.command()).redirectErrorStream(true)
                .redirectOutput(Redirect.appendTo(log.toFile()));
        try {
            return new DriverProcess(ws, pb.start(), log, container);
        } catch (IOException e) {
            container.releaseHost();
            throw e;
        }
    }

    void awaitReady() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(READY_TIMEOUT_S);
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                fail("the driver exited with " + process.exitValue() + " before it was ready:\n" + logTail());
            }
            if (Files.exists(ws.socketDir().resolve("csi.sock"))) {
                try {
                    if (csi().identity().probe(ProbeRequest.getDefaultInstance()).getReady().getValue()) {
                        return;
                    }
                } catch (StatusRuntimeException e) {
                    // not serving yet
                }
            }
            Thread.sleep(50);
        }
        fail("the driver was not ready within " + READY_TIMEOUT_S + " s:\n" + logTail());
    }

    Csi csi() {
        if (csi == null) {
            csi = new Csi(ws.endpoint());
        }
        return csi;
    }

    long pid() {
        return process.pid();
    }

    boolean isAlive() {
        return process.isAlive();
    }

    /** Waits for the process to end by itself (a crash point) and returns its exit code. */
    int awaitExit(Duration timeout) throws Exception {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            fail("the driver did not exit within " + timeout + ":\n" + logTail());
        }
        closeClient();
        return process.exitValue();
    }

    /**
     * SIGKILL: no shutdown hook runs, the socket and every lock are left as they are. The client
     * stays open (its calls fail) until {@link #close()}, so that callers in flight see what
     * kubelet would see.
     */
    void kill9() throws Exception {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
        if (container != null) {
            container.remove();
        }
    }

    /** SIGTERM and wait: the orderly end. */
    int stop() throws Exception {
        closeClient();
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
            fail("the driver ignored SIGTERM for 30 s:\n" + logTail());
        }
        if (container != null) {
            container.remove();
            container.releaseHost();
        }
        return process.exitValue();
    }

    String logTail() {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    String log() throws IOException {
        return Files.readString(log);
    }

    private void closeClient() {
        if (csi != null) {
            csi.close();
            csi = null;
        }
    }

    @Override
    public void close() throws Exception {
        if (process.isAlive()) {
            stop();
        }
        closeClient();
        if (container != null) {
            container.remove();
            container.releaseHost();
        }
    }
}
