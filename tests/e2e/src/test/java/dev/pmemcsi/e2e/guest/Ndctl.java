package dev.pmemcsi.e2e.guest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The ndctl command line as the guest tests use it: JSON in, typed values out. ndctl prints a single
 * object instead of a one-element array, and nothing at all for an empty list; both are normalised here.
 */
final class Ndctl {

    /** An fsdax namespace as ndctl reports it after creation. */
    record Namespace(String dev, String blockdev, String name) {
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private Ndctl() {
    }

    static List<String> regions() {
        List<String> regions = new ArrayList<>();
        for (JsonNode r : list("list", "--regions")) {
            regions.add(r.get("dev").asText());
        }
        regions.sort(null);
        return regions;
    }

    static List<JsonNode> namespaces(String region) {
        return list("list", "--namespaces", "--region", region);
    }

    static List<JsonNode> allNamespaces() {
        return list("list", "--namespaces");
    }

    static Namespace createFsdax(String region, String size, String name) {
        JsonNode ns = parse(ExternalCommand.check("ndctl", "create-namespace", "--region", region,
                "--mode", "fsdax", "--size", size, "--name", name));
        return new Namespace(ns.get("dev").asText(), ns.get("blockdev").asText(), name);
    }

    static void destroy(String namespaceDev) {
        ExternalCommand.check("ndctl", "destroy-namespace", "--force", namespaceDev);
    }

    private static List<JsonNode> list(String... args) {
        String[] argv = new String[args.length + 1];
        argv[0] = "ndctl";
        System.arraycopy(args, 0, argv, 1, args.length);
        String out = ExternalCommand.check(argv);
        List<JsonNode> items = new ArrayList<>();
        if (out.isBlank()) {
            return items;
        }
        JsonNode node = parse(out);
        if (node.isArray()) {
            node.forEach(items::add);
        } else {
            items.add(node);
        }
        return items;
    }

    private static JsonNode parse(String json) {
        try {
            return JSON.readTree(json);
        } catch (IOException e) {
            throw new UncheckedIOException("ndctl printed something that is not JSON: " + json, e);
        }
    }
}
