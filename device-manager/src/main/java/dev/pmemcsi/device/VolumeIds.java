package dev.pmemcsi.device;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Volume IDs: derived from CSI volume names so that every name, whatever its length or alphabet,
 * maps to an ID that fits a PMEM namespace name (63 bytes) and a file name.
 *
 * <p>An ID is up to six characters of the name, made safe, then {@code -} and the SHA-224 of the
 * whole name in hex: 63 characters at most, and readable enough to find in {@code ndctl list}.
 */
public final class VolumeIds {

    /** Namespace names hold at most 63 bytes. */
    public static final int MAX_LENGTH = 63;

    private static final Pattern VALID = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
    private static final int PREFIX = 6;

    private VolumeIds() {}

    public static boolean isValid(String id) {
        return id != null && VALID.matcher(id).matches();
    }

    /** The volume ID for a CSI volume name (or for a kubelet-chosen ephemeral volume ID). */
    public static String fromName(String name) {
        StringBuilder prefix = new StringBuilder(PREFIX);
        for (int i = 0; i < name.length() && prefix.length() < PREFIX; i++) {
            char c = Character.toLowerCase(name.charAt(i));
            if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
                prefix.append(c);
            }
        }
        if (prefix.length() == 0) {
            prefix.append("pmem");
        }
        return prefix + "-" + sha224(name);
    }

    private static String sha224(String s) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-224");
            return HexFormat.of().formatHex(md.digest(s.getBytes(StandardCharsets.UTF_8))).toLowerCase(Locale.ROOT);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-224 is required by every Java runtime", e);
        }
    }
}
