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

    /**
     * The marker that starts the ID of every CSI ephemeral inline volume. {@link #fromName} never
     * puts two dashes in a row, so no persistent volume's ID can equal an ephemeral one's, and the
     * marker comes back with the ID after a restart on every backend.
     */
    private static final String EPHEMERAL_PREFIX = "eph--";

    /** The volume ID for a CSI volume name. */
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

    /**
     * The volume ID of the CSI ephemeral inline volume that kubelet calls {@code kubeletVolumeId}:
     * {@code eph--} and the SHA-224 of that ID. Ephemeral and persistent volumes thus have
     * separate IDs even when kubelet's ID equals a persistent volume's name or ID.
     */
    public static String ephemeral(String kubeletVolumeId) {
        return EPHEMERAL_PREFIX + sha224(kubeletVolumeId);
    }

    /** Whether {@code id} is the ID of a CSI ephemeral inline volume (see {@link #ephemeral}). */
    public static boolean isEphemeral(String id) {
        return id != null && id.startsWith(EPHEMERAL_PREFIX);
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
