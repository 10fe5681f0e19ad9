package dev.pmemcsi.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * A private temporary directory for one scenario, and the promise that nothing of it survives:
 * on close every mount below it is unmounted, every loop device over a file below it detached,
 * and the directory removed, whatever state a failed scenario left.
 */
final class Workspace implements AutoCloseable {

    private final Path dir;

    private Workspace(Path dir) {
        this.dir = dir;
    }

    static Workspace create(String name) throws IOException {
        Path base = Path.of(System.getProperty("pmem-csi.bench.dir", "/var/tmp"));
        Workspace ws = new Workspace(Files.createTempDirectory(base, "pmem-csi-bench-" + name + "-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"))));
        Files.createDirectories(ws.kubelet().resolve("plugins"));
        Files.createDirectories(ws.kubelet().resolve("pods"));
        return ws;
    }

    Path dir() {
        return dir;
    }

    Path resolve(String name) {
        return dir.resolve(name);
    }

    /** Plays kubelet's root directory (the driver's --kubelet-dir): staging paths go below plugins/, pods below pods/. */
    Path kubelet() {
        return dir.resolve("kubelet");
    }

    /** A staging path below the kubelet tree; its parent exists, as kubelet prepares it. */
    Path staging(String name) {
        return kubelet().resolve("plugins").resolve(name);
    }

    /** A pod's directory below the kubelet tree. */
    Path pod(String name) throws IOException {
        return Files.createDirectories(kubelet().resolve("pods").resolve(name));
    }

    /** Unmounts what is mounted below the workspace; the driver must be stopped first or be idle. */
    void unmountAll() {
        List<String> mounts = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                String mp = line.split(" ")[4];
                if (mp.startsWith(dir + "/")) {
                    mounts.add(mp);
                }
            }
        } catch (IOException e) {
            System.err.println("workspace: cannot read mountinfo: " + e.getMessage());
        }
        mounts.sort(Comparator.reverseOrder());
        for (String mp : mounts) {
            quietly(List.of("umount", "-l", mp));
        }
    }

    /** Detaches loop devices whose backing file lies below the workspace. */
    void detachLoops() {
        try (Stream<Path> loops = Files.list(Path.of("/sys/block"))) {
            for (Path loop : loops.filter(p -> p.getFileName().toString().startsWith("loop")).toList()) {
                Path backing = loop.resolve("loop/backing_file");
                if (Files.exists(backing)) {
                    String file = Files.readString(backing).strip();
                    if (file.startsWith(dir + "/")) {
                        quietly(List.of("losetup", "-d", "/dev/" + loop.getFileName()));
                    }
                }
            }
        } catch (IOException e) {
            System.err.println("workspace: cannot list loop devices: " + e.getMessage());
        }
    }

    @Override
    public void close() {
        unmountAll();
        detachLoops();
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            System.err.println("workspace: cannot remove " + dir + ": " + e.getMessage());
        }
    }

    private static void quietly(List<String> argv) {
        try {
            Commands.run(argv);
        } catch (IOException e) {
            System.err.println("workspace cleanup: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
