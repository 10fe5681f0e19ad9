package dev.pmemcsi.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.UUID;

/**
 * A private directory tree for one driver and its kubelet-like paths:
 * {@code state/} (the driver's), {@code sock/csi.sock}, {@code kubelet/plugins/} (staging paths),
 * {@code kubelet/pods/} (target paths) and {@code outside/} (what no request may touch).
 * Closing it removes every mount, loop device and file the test left, after the test has had its
 * chance to assert that there were none.
 */
final class Workspace implements AutoCloseable {

    final Path root;
    /** Mounts the test set up itself (the shared bind a containerised driver needs), not the driver. */
    private final java.util.Set<String> ownMounts = new java.util.concurrent.CopyOnWriteArraySet<>();

    Workspace(String name) throws IOException {
        root = Files.createTempDirectory(Path.of("/tmp"), "pmem-csi-" + name + "-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Files.createDirectories(plugins());
        Files.createDirectories(pods());
        Files.createDirectories(outside());
    }

    Path state() {
        return root.resolve("state");
    }

    Path socketDir() {
        return root.resolve("sock");
    }

    String endpoint() {
        return "unix://" + socketDir().resolve("csi.sock");
    }

    /** Plays kubelet's root directory: the driver's --kubelet-dir. */
    Path kubelet() {
        return root.resolve("kubelet");
    }

    Path plugins() {
        return kubelet().resolve("plugins");
    }

    Path pods() {
        return kubelet().resolve("pods");
    }

    Path outside() {
        return root.resolve("outside");
    }

    Path emulated() {
        return state().resolve("emulated");
    }

    /** A fresh staging path whose parent exists, as kubelet prepares it. */
    Path newStagingPath() throws IOException {
        Path dir = plugins().resolve(UUID.randomUUID().toString());
        Files.createDirectories(dir);
        return dir.resolve("globalmount");
    }

    /** A fresh target path of a pod; its parent exists, the target itself does not. */
    Path newTargetPath() throws IOException {
        Path dir = pods().resolve(UUID.randomUUID().toString()).resolve("volumes");
        Files.createDirectories(dir);
        return dir.resolve("mount");
    }

    /** Like {@link #newTargetPath()}, for lambdas that may not throw. */
    Path newTargetPathUnchecked() {
        try {
            return newTargetPath();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    void addOwnMount(Path mountPoint) {
        ownMounts.add(mountPoint.toString());
    }

    void removeOwnMount(Path mountPoint) {
        ownMounts.remove(mountPoint.toString());
    }

    /** The mounts under the workspace that a driver made. */
    List<String> driverMounts() {
        return Host.mountsUnder(root).stream().filter(m -> !ownMounts.contains(m)).toList();
    }

    /**
     * No mount and no loop device under the workspace; on ndctl also no namespace holding space
     * and no pmem device mounted anywhere.
     */
    void assertNothingHeld() {
        assertEquals(List.of(), driverMounts(), "mounts left under " + root);
        assertEquals(List.of(), Host.loopsUnder(root).stream().map(l -> l.device().toString()).toList(),
                "loop devices left over " + root);
        if (BackendKind.current() == BackendKind.NDCTL) {
            assertEquals(List.of(), NdctlCli.namespaces(), "namespaces left (ndctl list -N -i)");
            assertEquals(List.of(), Host.pmemMounts(), "pmem devices left mounted");
        }
        if (BackendKind.current() == BackendKind.LVM) {
            assertEquals(List.of(), new Backend(this).ownVolumes(), "logical volumes of the driver left (lvs)");
            assertEquals(List.of(), Host.pmemMounts(), "pmem or device-mapper devices left mounted");
        }
    }

    @Override
    public void close() throws Exception {
        Path log = root.resolve("driver.log");
        if (Files.exists(log)) {
            // Kept for the CI report: the workspace itself goes.
            Path keep = Path.of(System.getProperty("pmemcsi.driver.logs", "target/driver-logs"));
            Files.createDirectories(keep);
            Files.copy(log, keep.resolve(root.getFileName() + ".log"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        try {
            Host.release(root);
        } finally {
            deleteTree(root);
        }
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                Files.delete(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
