package dev.pmemcsi.reliability;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The kernel's view of the NVDIMM regions and namespaces, read with the {@code ndctl} CLI rather
 * than through the driver's own bindings, so that a leak check does not trust the code it checks.
 */
final class NdctlCli {

    /** A namespace with allocated space: enabled, or left disabled by an interrupted operation. */
    record Namespace(String dev, String name, long sizeBytes, boolean enabled) {}

    /** A region: its size and what is still unallocated. */
    record Region(String dev, long sizeBytes, long availableBytes) {}

    private static final ObjectMapper JSON = new ObjectMapper();

    private NdctlCli() {}

    /** Every namespace that holds space, including disabled ones ({@code ndctl list -N -i}). */
    static List<Namespace> namespaces() {
        List<Namespace> out = new ArrayList<>();
        for (JsonNode n : list("--namespaces", "--idle")) {
            long size = n.path("size").asLong(0);
            if (size > 0) {
                out.add(new Namespace(n.path("dev").asText(), n.path("name").asText(""), size,
                        !"disabled".equals(n.path("state").asText(""))));
            }
        }
        return out;
    }

    static List<Region> regions() {
        List<Region> out = new ArrayList<>();
        for (JsonNode r : list("--regions")) {
            out.add(new Region(r.path("dev").asText(), r.path("size").asLong(), r.path("available_size").asLong()));
        }
        return out;
    }

    /** ndctl prints nothing for an empty listing and a bare object for a single entry. */
    private static List<JsonNode> list(String... what) {
        List<String> cmd = new ArrayList<>(List.of("ndctl", "list"));
        cmd.addAll(List.of(what));
        try {
            Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new IllegalStateException(cmd + " failed");
            }
            if (new String(out).isBlank()) {
                return List.of();
            }
            JsonNode root = JSON.readTree(out);
            List<JsonNode> items = new ArrayList<>();
            if (root.isArray()) {
                root.forEach(items::add);
            } else {
                items.add(root);
            }
            return items;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
