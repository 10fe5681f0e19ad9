package dev.pmemcsi.reliability;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The driver's image run the way the deployment's DaemonSet runs its driver container: the
 * command line is derived from the rendered manifest, not written down a second time, so a flag,
 * variable, mount or privilege added to the DaemonSet reaches this test by itself.
 *
 * <p>Chosen with {@code -Dpmemcsi.driver.image=<image>}; {@code -Dpmemcsi.driver.overlay} names the
 * kustomization (the emulated overlay by default) and {@code -Dpmemcsi.container.tool} the tool
 * (podman by default). What cannot be the same on a test host is moved, and only that:
 * <ul>
 *   <li>Every hostPath volume the container mounts at its own path (the kubelet dir, the state dir)
 *       moves into the {@link Workspace} and is mounted there at the same path, and that path
 *       replaces the manifest's in the driver's arguments: paths in CSI calls and loop devices'
 *       backing files then mean the same inside and outside, as they do on a node.</li>
 *   <li>The socket dir becomes the workspace's socket dir; /dev and /sys are the host's.</li>
 *   <li>{@code spec.nodeName} is {@link DriverProcess#NODE}.</li>
 * </ul>
 * A Bidirectional mount needs a shared mount on the host side; the workspace dir is bound onto
 * itself and made shared for the container's life, and unmounted when it stops.
 */
final class DaemonSetContainer {

    static final String IMAGE_PROPERTY = "pmemcsi.driver.image";
    static final String DRIVER_CONTAINER = "pmem-driver";
    private static final Pattern ENV_REFERENCE = Pattern.compile("\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)");
    private static final String POD_NAMESPACE = "pmem-csi";

    private final List<String> command;
    private final List<Path> sharedMounts;
    private final Workspace ws;
    final String name;

    private DaemonSetContainer(List<String> command, List<Path> sharedMounts, Workspace ws, String name) {
        this.command = command;
        this.sharedMounts = sharedMounts;
        this.ws = ws;
        this.name = name;
    }

    static boolean selected() {
        String image = System.getProperty(IMAGE_PROPERTY, "");
        return !image.isBlank();
    }

    static String tool() {
        return System.getProperty("pmemcsi.container.tool", "podman");
    }

    /** The container command for the workspace; nothing is started or mounted yet. */
    static DaemonSetContainer forWorkspace(Workspace ws) throws IOException {
        JsonNode podSpec = podSpec(renderedManifest());
        return fromPodSpec(podSpec, driverContainer(podSpec), ws);
    }

    static DaemonSetContainer fromPodSpec(JsonNode podSpec, JsonNode container, Workspace ws) throws IOException {
        String podName = "pmem-csi-node-conformance";
        String name = "pmem-csi-conformance-" + ProcessHandle.current().pid();

        Map<String, String> env = new LinkedHashMap<>();
        for (JsonNode e : container.path("env")) {
            env.put(e.path("name").asText(), envValue(e, podName));
        }

        Map<String, JsonNode> volumes = new LinkedHashMap<>();
        for (JsonNode v : podSpec.path("volumes")) {
            volumes.put(v.path("name").asText(), v);
        }
        List<String> mounts = new ArrayList<>();
        List<Path> shared = new ArrayList<>();
        // Manifest path -> workspace path, for the arguments; longest first so that a nested
        // path is replaced before its parent.
        Map<String, String> moved = new LinkedHashMap<>();
        for (JsonNode m : container.path("volumeMounts")) {
            String volume = m.path("name").asText();
            String mountPath = m.path("mountPath").asText();
            JsonNode v = volumes.get(volume);
            if (v == null || !v.has("hostPath")) {
                throw new IllegalStateException("the driver container mounts " + volume
                        + ", which is not a hostPath volume; this test knows only how to run hostPath mounts");
            }
            String hostPath = v.path("hostPath").path("path").asText();
            Path source = hostSide(volume, hostPath, ws);
            String target = mountPath;
            if (mountPath.equals(hostPath) && !source.toString().equals(hostPath)) {
                target = source.toString();
                moved.put(hostPath, target);
            }
            Files.createDirectories(source);
            StringBuilder mount = new StringBuilder("type=bind,src=" + source + ",dst=" + target);
            String propagation = m.path("mountPropagation").asText("None");
            switch (propagation) {
                case "Bidirectional" -> {
                    mount.append(",bind-propagation=rshared");
                    shared.add(source);
                }
                case "HostToContainer" -> mount.append(",bind-propagation=rslave");
                case "None" -> mount.append(",bind-propagation=rprivate");
                default -> throw new IllegalStateException(volume + ": unknown mountPropagation " + propagation);
            }
            if (m.path("readOnly").asBoolean(false)) {
                mount.append(",ro=true");
            }
            mounts.add(mount.toString());
        }
        List<Map.Entry<String, String>> replacements = new ArrayList<>(moved.entrySet());
        replacements.sort(Comparator.comparingInt((Map.Entry<String, String> e) -> e.getKey().length()).reversed());

        List<String> cmd = new ArrayList<>(List.of(tool(), "run", "--rm", "--name", name,
                "--label", "dev.pmemcsi.test=conformance", "--pull=never", "--sig-proxy=true"));
        // A pod without hostNetwork has a network namespace of its own: loopback only here.
        cmd.add(podSpec.path("hostNetwork").asBoolean(false) ? "--network=host" : "--network=none");
        JsonNode security = container.path("securityContext");
        if (security.path("privileged").asBoolean(false)) {
            cmd.add("--privileged");
        }
        String memory = container.path("resources").path("limits").path("memory").asText("");
        if (!memory.isEmpty()) {
            cmd.add("--memory=" + bytes(memory));
        }
        for (Map.Entry<String, String> e : env.entrySet()) {
            cmd.addAll(List.of("--env", e.getKey() + "=" + e.getValue()));
        }
        for (String mount : mounts) {
            cmd.addAll(List.of("--mount", mount));
        }
        if (container.has("command")) {
            List<String> entrypoint = new ArrayList<>();
            container.path("command").forEach(c -> entrypoint.add(expand(c.asText(), env)));
            cmd.add("--entrypoint=" + new ObjectMapper().writeValueAsString(entrypoint));
        }
        cmd.add(System.getProperty(IMAGE_PROPERTY));
        for (JsonNode a : container.path("args")) {
            String arg = expand(a.asText(), env);
            for (Map.Entry<String, String> r : replacements) {
                arg = arg.replace(r.getKey(), r.getValue());
            }
            cmd.add(arg);
        }
        return new DaemonSetContainer(List.copyOf(cmd), List.copyOf(shared), ws, name);
    }

    List<String> command() {
        return command;
    }

    /** Binds each Bidirectional mount's host side onto itself and makes it shared. */
    void prepareHost() throws IOException {
        for (Path p : sharedMounts) {
            run("mount", "--bind", p.toString(), p.toString());
            run("mount", "--make-shared", p.toString());
            ws.addOwnMount(p);
        }
    }

    /**
     * Undoes {@link #prepareHost()} once the container is gone. A mount the driver left below
     * such a dir makes this fail, which is the point: the container's end must leave none.
     */
    void releaseHost() throws IOException {
        for (Path p : sharedMounts) {
            if (Host.isMountPoint(p)) {
                List<String> left = Host.mountsUnder(p).stream().filter(m -> !m.equals(p.toString())).toList();
                if (!left.isEmpty()) {
                    throw new IllegalStateException("the stopped container left mounts below " + p + ": " + left);
                }
                run("umount", p.toString());
                ws.removeOwnMount(p);
            }
        }
    }

    /** Removes the container if it is still there (after SIGKILL of the client, say). */
    void remove() {
        try {
            new ProcessBuilder(tool(), "rm", "--force", "--ignore", name).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor(60, TimeUnit.SECONDS);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static Path hostSide(String volume, String hostPath, Workspace ws) {
        return switch (volume) {
            case "socket-dir" -> ws.socketDir();
            case "kubelet-dir" -> ws.root.resolve("kubelet");
            case "state-dir" -> ws.state();
            case "dev", "sys" -> Path.of(hostPath);
            default -> throw new IllegalStateException("the driver container mounts hostPath " + hostPath + " (volume "
                    + volume + "); say in DaemonSetContainer where that goes on a test host");
        };
    }

    private static String envValue(JsonNode e, String podName) {
        if (e.has("value")) {
            return e.path("value").asText();
        }
        String field = e.path("valueFrom").path("fieldRef").path("fieldPath").asText("");
        return switch (field) {
            case "spec.nodeName" -> DriverProcess.NODE;
            case "metadata.name" -> podName;
            case "metadata.namespace" -> POD_NAMESPACE;
            default -> throw new IllegalStateException("env " + e.path("name").asText() + ": no test value for " + e);
        };
    }

    /** Kubernetes' $(VAR) expansion of command and args; an unknown reference stays as written. */
    static String expand(String s, Map<String, String> env) {
        Matcher m = ENV_REFERENCE.matcher(s);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String value = env.get(m.group(1));
            m.appendReplacement(out, Matcher.quoteReplacement(value != null ? value : m.group()));
        }
        return m.appendTail(out).toString();
    }

    /** A memory quantity (binary or decimal suffix) in bytes. */
    static long bytes(String quantity) {
        Matcher m = Pattern.compile("(\\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?").matcher(quantity);
        if (!m.matches()) {
            throw new IllegalStateException("not a quantity this test reads: " + quantity);
        }
        long n = Long.parseLong(m.group(1));
        String unit = m.group(2) == null ? "" : m.group(2);
        return n * switch (unit) {
            case "Ki" -> 1L << 10;
            case "Mi" -> 1L << 20;
            case "Gi" -> 1L << 30;
            case "Ti" -> 1L << 40;
            case "k" -> 1_000L;
            case "M" -> 1_000_000L;
            case "G" -> 1_000_000_000L;
            case "T" -> 1_000_000_000_000L;
            default -> 1L;
        };
    }

    static JsonNode podSpec(List<JsonNode> manifest) {
        return manifest.stream().filter(d -> "DaemonSet".equals(d.path("kind").asText())).findFirst()
                .orElseThrow(() -> new IllegalStateException("the rendered manifest has no DaemonSet"))
                .path("spec").path("template").path("spec");
    }

    static JsonNode driverContainer(JsonNode podSpec) {
        for (JsonNode c : podSpec.path("containers")) {
            if (DRIVER_CONTAINER.equals(c.path("name").asText())) {
                return c;
            }
        }
        throw new IllegalStateException("the DaemonSet has no container named " + DRIVER_CONTAINER);
    }

    /** {@code kubectl kustomize} of the overlay, as `kubectl apply -k` would render it. */
    static List<JsonNode> renderedManifest() throws IOException {
        Path root = Path.of(System.getProperty("pmemcsi.repo.root", "../..")).toAbsolutePath().normalize();
        Path overlay = root.resolve(System.getProperty("pmemcsi.driver.overlay", "deploy/kubernetes/overlays/emulated"));
        Process p = new ProcessBuilder("kubectl", "kustomize", overlay.toString())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String yaml = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IllegalStateException("kubectl kustomize " + overlay + " failed");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        return parse(yaml);
    }

    static List<JsonNode> parse(String yaml) throws IOException {
        ObjectMapper mapper = new ObjectMapper(new YAMLFactory());
        try (var docs = mapper.readerFor(JsonNode.class).<JsonNode>readValues(yaml)) {
            List<JsonNode> out = new ArrayList<>();
            docs.forEachRemaining(d -> {
                if (d != null && !d.isNull() && !d.isMissingNode()) {
                    out.add(d);
                }
            });
            return out;
        }
    }

    private static void run(String... cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IOException(String.join(" ", cmd) + " failed: " + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }
}
