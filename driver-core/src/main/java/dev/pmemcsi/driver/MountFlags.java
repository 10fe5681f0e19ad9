package dev.pmemcsi.driver;

import java.util.Set;
import java.util.regex.Pattern;

/**
 * Mount flags a user may pass through a StorageClass's {@code mountOptions}. Only flags that are
 * safe for a pod's volume are allowed; anything that could reach beyond it (a different source,
 * another filesystem type, option injection through commas) is refused.
 */
public final class MountFlags {

    private static final Set<String> ALLOWED = Set.of(
            "ro", "rw", "noatime", "relatime", "strictatime", "nodiratime", "lazytime",
            "nosuid", "nodev", "noexec", "sync", "dirsync", "discard", "nodiscard",
            "nobarrier", "barrier", "norecovery", "nouuid", "noquota", "quota", "usrquota", "grpquota",
            "prjquota", "dax", "dax=always", "dax=never", "dax=inode", "user_xattr", "acl", "noacl",
            "data=ordered", "data=journal", "data=writeback", "errors=remount-ro", "errors=continue",
            "errors=panic");
    private static final Pattern COMMIT = Pattern.compile("commit=[0-9]{1,5}");

    private MountFlags() {}

    /** Why the flag is refused, or null when it is allowed. */
    public static String problem(String flag) {
        if (flag.contains(",")) {
            return "mount flag \"" + flag + "\" contains a comma; pass each flag separately";
        }
        if (ALLOWED.contains(flag) || COMMIT.matcher(flag).matches()) {
            return null;
        }
        return "mount flag \"" + flag + "\" is not supported";
    }
}
