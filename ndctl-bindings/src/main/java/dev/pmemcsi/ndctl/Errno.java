package dev.pmemcsi.ndctl;

import java.util.Map;

/**
 * Linux errno values that libndctl and the block layer return, with their symbolic names, so that
 * error messages read "ENXIO (No such device or address)" rather than "-6".
 */
public final class Errno {

    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int EIO = 5;
    public static final int ENXIO = 6;
    public static final int EAGAIN = 11;
    public static final int ENOMEM = 12;
    public static final int EACCES = 13;
    public static final int EBUSY = 16;
    public static final int EEXIST = 17;
    public static final int ENODEV = 19;
    public static final int EINVAL = 22;
    public static final int ENOTTY = 25;
    public static final int ENOSPC = 28;
    public static final int EROFS = 30;
    public static final int EOPNOTSUPP = 95;

    private static final Map<Integer, String[]> KNOWN = Map.ofEntries(
            Map.entry(EPERM, new String[] {"EPERM", "Operation not permitted"}),
            Map.entry(ENOENT, new String[] {"ENOENT", "No such file or directory"}),
            Map.entry(EIO, new String[] {"EIO", "Input/output error"}),
            Map.entry(ENXIO, new String[] {"ENXIO", "No such device or address"}),
            Map.entry(EAGAIN, new String[] {"EAGAIN", "Resource temporarily unavailable"}),
            Map.entry(ENOMEM, new String[] {"ENOMEM", "Cannot allocate memory"}),
            Map.entry(EACCES, new String[] {"EACCES", "Permission denied"}),
            Map.entry(EBUSY, new String[] {"EBUSY", "Device or resource busy"}),
            Map.entry(EEXIST, new String[] {"EEXIST", "File exists"}),
            Map.entry(ENODEV, new String[] {"ENODEV", "No such device"}),
            Map.entry(EINVAL, new String[] {"EINVAL", "Invalid argument"}),
            Map.entry(ENOTTY, new String[] {"ENOTTY", "Inappropriate ioctl for device"}),
            Map.entry(ENOSPC, new String[] {"ENOSPC", "No space left on device"}),
            Map.entry(EROFS, new String[] {"EROFS", "Read-only file system"}),
            Map.entry(EOPNOTSUPP, new String[] {"EOPNOTSUPP", "Operation not supported"}));

    private Errno() {}

    /** "EBUSY (Device or resource busy)" for 16 or -16; "errno 123" for values not listed. */
    public static String describe(int errno) {
        int e = Math.abs(errno);
        String[] known = KNOWN.get(e);
        return known == null ? "errno " + e : known[0] + " (" + known[1] + ")";
    }
}
