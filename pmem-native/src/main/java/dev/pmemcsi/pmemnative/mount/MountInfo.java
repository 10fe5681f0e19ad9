package dev.pmemcsi.pmemnative.mount;

import java.util.Arrays;
import java.util.List;

/**
 * One line of {@code /proc/self/mountinfo} (see proc(5)), with the octal escapes of paths
 * ({@code \040} for a space and so on) decoded.
 *
 * @param mountId        unique ID of the mount
 * @param parentId       ID of the parent mount
 * @param major          major number of the device ({@code st_dev}) of the filesystem
 * @param minor          minor number
 * @param root           the directory of the filesystem that forms the root of this mount;
 *                       for a bind mount of a device node, the node's path inside devtmpfs
 * @param mountPoint     where it is mounted, relative to the process's root
 * @param mountOptions   per-mount options, e.g. {@code rw,relatime}
 * @param optionalFields propagation tags such as {@code shared:5}
 * @param fsType         filesystem type, e.g. {@code ext4}
 * @param source         filesystem-specific source, e.g. {@code /dev/pmem0}
 * @param superOptions   per-superblock options, e.g. {@code rw,dax=always}
 */
public record MountInfo(
        int mountId,
        int parentId,
        int major,
        int minor,
        String root,
        String mountPoint,
        List<String> mountOptions,
        List<String> optionalFields,
        String fsType,
        String source,
        List<String> superOptions) {

    public MountInfo {
        mountOptions = List.copyOf(mountOptions);
        optionalFields = List.copyOf(optionalFields);
        superOptions = List.copyOf(superOptions);
    }

    /** Whether either option list holds {@code option} exactly. */
    public boolean hasOption(String option) {
        return mountOptions.contains(option) || superOptions.contains(option);
    }

    /** Read-only per mount (a read-only bind) or per superblock. */
    public boolean readOnly() {
        return mountOptions.contains("ro") || superOptions.contains("ro");
    }

    /**
     * Whether the kernel reports DAX for this mount: ext4 shows {@code dax} or {@code dax=always},
     * xfs shows {@code dax=always}; a filesystem that turned DAX off shows {@code dax=never} or
     * nothing.
     */
    public boolean daxAlways() {
        return hasOption("dax") || hasOption("dax=always");
    }

    /**
     * Parses one mountinfo line.
     *
     * @throws IllegalArgumentException when the line does not have the documented shape
     */
    public static MountInfo parse(String line) {
        String[] f = line.strip().split(" ");
        int sep = -1;
        for (int i = 6; i < f.length; i++) {
            if (f[i].equals("-")) {
                sep = i;
                break;
            }
        }
        if (f.length < 10 || sep < 0 || f.length < sep + 4) {
            throw new IllegalArgumentException("malformed mountinfo line: " + line);
        }
        String[] dev = f[2].split(":");
        if (dev.length != 2) {
            throw new IllegalArgumentException("malformed major:minor in mountinfo line: " + line);
        }
        try {
            return new MountInfo(
                    Integer.parseInt(f[0]),
                    Integer.parseInt(f[1]),
                    Integer.parseInt(dev[0]),
                    Integer.parseInt(dev[1]),
                    unescape(f[3]),
                    unescape(f[4]),
                    Arrays.asList(f[5].split(",")),
                    Arrays.asList(f).subList(6, sep),
                    unescape(f[sep + 1]),
                    unescape(f[sep + 2]),
                    Arrays.asList(f[sep + 3].split(",")));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("malformed number in mountinfo line: " + line, e);
        }
    }

    /** Decodes the kernel's {@code \ooo} escapes (space, tab, newline and backslash). */
    static String unescape(String s) {
        if (s.indexOf('\\') < 0) {
            return s;
        }
        StringBuilder out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && isOctal(s, i + 1) && isOctal(s, i + 2) && isOctal(s, i + 3)) {
                out.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    private static boolean isOctal(String s, int i) {
        return i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '7';
    }
}
