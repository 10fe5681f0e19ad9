package dev.pmemcsi.deploy;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locations in the source tree; Maven passes the root, an IDE run falls back to the module's parent. */
final class Repo {
    private Repo() {}

    static Path root() {
        Path root = Path.of(System.getProperty("pmemcsi.repoRoot", "../..")).toAbsolutePath().normalize();
        if (!Files.isDirectory(root.resolve("deploy/kubernetes"))) {
            throw new AssertionError("not the repository root (no deploy/kubernetes): " + root);
        }
        return root;
    }

    static Path kubernetes(String relative) {
        return root().resolve("deploy/kubernetes").resolve(relative);
    }

    /** A kustomization committed as a test fixture, rendered in place so its relative paths hold. */
    static Path fixture(String relative) {
        return root().resolve("tests/deploy/src/test/resources").resolve(relative);
    }

    static String projectVersion() {
        String version = System.getProperty("pmemcsi.version");
        if (version == null) {
            throw new AssertionError("pmemcsi.version is not set; run the tests through Maven");
        }
        return version;
    }
}
