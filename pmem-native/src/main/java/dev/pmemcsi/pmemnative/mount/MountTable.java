package dev.pmemcsi.pmemnative.mount;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A snapshot of the mounts this process sees. The driver asks the kernel what is mounted
 * rather than remembering it, so that a restart or a mount made by someone else cannot mislead it.
 */
public final class MountTable {

    private static final Path SELF = Path.of("/proc/self/mountinfo");

    private final List<MountInfo> mounts;

    public MountTable(List<MountInfo> mounts) {
        this.mounts = List.copyOf(mounts);
    }

    /** Reads {@code /proc/self/mountinfo}. */
    public static MountTable read() throws IOException {
        return parse(Files.readString(SELF, StandardCharsets.UTF_8));
    }

    public static MountTable parse(String text) {
        List<MountInfo> result = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (!line.isBlank()) {
                result.add(MountInfo.parse(line));
            }
        }
        return new MountTable(result);
    }

    public List<MountInfo> mounts() {
        return mounts;
    }

    /** Every mount at {@code mountPoint}, bottom first; several when mounts are stacked. */
    public List<MountInfo> at(Path mountPoint) {
        String p = mountPoint.toString();
        return mounts.stream().filter(m -> m.mountPoint().equals(p)).toList();
    }

    /** The visible (topmost) mount at {@code mountPoint}. */
    public Optional<MountInfo> top(Path mountPoint) {
        List<MountInfo> at = at(mountPoint);
        return at.isEmpty() ? Optional.empty() : Optional.of(at.get(at.size() - 1));
    }

    public boolean isMountPoint(Path path) {
        return !at(path).isEmpty();
    }

    /** Mounts whose filesystem lives on the block device {@code major:minor}. */
    public List<MountInfo> ofDevice(int major, int minor) {
        return mounts.stream().filter(m -> m.major() == major && m.minor() == minor).toList();
    }

    /** Mount points at or below {@code dir}. */
    public List<MountInfo> under(Path dir) {
        String p = dir.toString();
        String prefix = p.endsWith("/") ? p : p + "/";
        return mounts.stream().filter(m -> m.mountPoint().equals(p) || m.mountPoint().startsWith(prefix)).toList();
    }
}
