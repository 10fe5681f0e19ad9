package dev.pmemcsi.pmemnative.mount;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Mount options as mount(8) takes them, split the way mount(2) needs them: generic options
 * become {@code MS_*} flags, the rest is the filesystem's data string.
 *
 * @param flags the {@code MS_*} bits
 * @param data  filesystem options joined with commas, or empty
 */
public record MountOptions(long flags, String data) {

    public static final long MS_RDONLY = 1L;
    public static final long MS_NOSUID = 2L;
    public static final long MS_NODEV = 4L;
    public static final long MS_NOEXEC = 8L;
    public static final long MS_SYNCHRONOUS = 16L;
    public static final long MS_REMOUNT = 32L;
    public static final long MS_DIRSYNC = 128L;
    public static final long MS_NOATIME = 1024L;
    public static final long MS_NODIRATIME = 2048L;
    public static final long MS_BIND = 4096L;
    public static final long MS_REC = 16384L;
    public static final long MS_PRIVATE = 1L << 18;
    public static final long MS_RELATIME = 1L << 21;
    public static final long MS_STRICTATIME = 1L << 24;
    public static final long MS_LAZYTIME = 1L << 25;

    /** The per-mount flags that a bind remount must repeat, or the kernel clears them. */
    public static final long PER_MOUNT_FLAGS = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
            | MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME;

    private static final Map<String, Long> SET = Map.ofEntries(
            Map.entry("ro", MS_RDONLY), Map.entry("nosuid", MS_NOSUID), Map.entry("nodev", MS_NODEV),
            Map.entry("noexec", MS_NOEXEC), Map.entry("sync", MS_SYNCHRONOUS), Map.entry("dirsync", MS_DIRSYNC),
            Map.entry("noatime", MS_NOATIME), Map.entry("nodiratime", MS_NODIRATIME),
            Map.entry("relatime", MS_RELATIME), Map.entry("strictatime", MS_STRICTATIME),
            Map.entry("lazytime", MS_LAZYTIME));

    /** Options that only state a default: they set no flag and must not reach the filesystem. */
    private static final List<String> DEFAULTS = List.of("rw", "suid", "dev", "exec", "async", "atime", "diratime");

    public static MountOptions of(List<String> options) {
        long flags = 0;
        List<String> data = new ArrayList<>();
        for (String o : options) {
            Long f = SET.get(o);
            if (f != null) {
                flags |= f;
            } else if (!DEFAULTS.contains(o)) {
                data.add(o);
            }
        }
        if ((flags & MS_RDONLY) != 0 && options.contains("rw")) {
            throw new IllegalArgumentException("mount options contain both ro and rw");
        }
        return new MountOptions(flags, String.join(",", data));
    }

    public boolean readOnly() {
        return (flags & MS_RDONLY) != 0;
    }

    public MountOptions withFlags(long more) {
        return new MountOptions(flags | more, data);
    }
}
