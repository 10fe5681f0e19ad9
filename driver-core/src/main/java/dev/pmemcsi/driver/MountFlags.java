package dev.pmemcsi.driver;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Mount flags a user may pass through a StorageClass's {@code mountOptions}. Only flags that are
 * safe for a pod's volume and that the volume's filesystem understands are allowed; anything that
 * could reach beyond the volume (a different source, another filesystem type, option injection
 * through commas, {@code errors=panic}) is refused. So are flags that contradict each other, since
 * the kernel would refuse the mount, or silently pick one of them.
 */
public final class MountFlags {

    /** Flags of the VFS, or understood by both ext4 and xfs. */
    private static final Set<String> COMMON = Set.of(
            "ro", "rw", "noatime", "relatime", "strictatime", "nodiratime", "lazytime",
            "nosuid", "nodev", "noexec", "sync", "dirsync", "discard", "nodiscard",
            "dax", "dax=always", "dax=never", "dax=inode");
    private static final Set<String> EXT4 = Set.of(
            "barrier", "nobarrier", "norecovery", "noquota", "quota", "usrquota", "grpquota",
            "user_xattr", "acl", "noacl", "data=ordered", "data=journal", "data=writeback",
            "errors=remount-ro", "errors=continue");
    private static final Set<String> XFS = Set.of(
            "nouuid", "noquota", "quota", "usrquota", "grpquota", "prjquota");
    /** ext4's journal commit interval in seconds. */
    private static final Pattern EXT4_COMMIT = Pattern.compile("commit=[0-9]{1,5}");

    private MountFlags() {}

    /**
     * Why {@code flags} cannot be used to mount {@code fsType} (ext4 or xfs), or null when they can.
     */
    public static String problem(String fsType, List<String> flags) {
        Map<String, String> seen = new HashMap<>();
        for (String flag : flags) {
            String p = problem(fsType, flag);
            if (p != null) {
                return p;
            }
            String family = family(flag);
            String before = seen.putIfAbsent(family, flag);
            if (before != null && !meaning(before).equals(meaning(flag))) {
                return "mount flags \"" + before + "\" and \"" + flag + "\" contradict each other";
            }
        }
        return null;
    }

    private static String problem(String fsType, String flag) {
        if (flag.contains(",")) {
            return "mount flag \"" + flag + "\" contains a comma; pass each flag separately";
        }
        if (flag.equals("errors=panic")) {
            return "mount flag \"errors=panic\" is not supported: a damaged filesystem must not be able to"
                    + " halt the node";
        }
        if (COMMON.contains(flag)) {
            return null;
        }
        boolean ext4 = fsType.equals(VolumeCapabilities.EXT4);
        if (ext4 && (EXT4.contains(flag) || EXT4_COMMIT.matcher(flag).matches())
                || !ext4 && XFS.contains(flag)) {
            return null;
        }
        if (EXT4.contains(flag) || XFS.contains(flag) || EXT4_COMMIT.matcher(flag).matches()) {
            return "mount flag \"" + flag + "\" is not supported by " + fsType;
        }
        return "mount flag \"" + flag + "\" is not supported";
    }

    /** Flags of one family set one thing; two of them must agree. */
    private static String family(String flag) {
        return switch (flag) {
            case "ro", "rw" -> "ro";
            case "noatime", "relatime", "strictatime" -> "atime";
            case "dax", "dax=always", "dax=never", "dax=inode" -> "dax";
            case "barrier", "nobarrier" -> "barrier";
            case "discard", "nodiscard" -> "discard";
            case "acl", "noacl" -> "acl";
            case "noquota", "quota", "usrquota", "grpquota", "prjquota" -> "quota";
            default -> {
                int eq = flag.indexOf('=');
                yield eq > 0 ? flag.substring(0, eq + 1) : flag;
            }
        };
    }

    /** What a flag sets within its family: the quota flags all turn quotas on. */
    private static String meaning(String flag) {
        return switch (flag) {
            case "dax" -> "dax=always";
            case "quota", "usrquota", "grpquota", "prjquota" -> "quota";
            default -> flag;
        };
    }
}
