package dev.pmemcsi.controller.snapshot;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Snapshot IDs. A snapshot lives on the node whose driver took it, and a CreateVolume that restores
 * it may reach another node's driver (a pod scheduled elsewhere): the ID names the node, so that
 * driver can say where the snapshot is.
 *
 * <p>An ID is {@code snap-}, the SHA-224 of the snapshot's name in hex (its <em>key</em>, which
 * names its files), {@code -}, and the node ID. A node ID too long or of other characters than
 * {@code [A-Za-z0-9._-]} is replaced by {@code ~} and 16 hex digits of its SHA-256, so that an ID
 * stays within the 128 bytes CSI allows.
 */
public final class SnapshotIds {

    private static final String PREFIX = "snap-";
    private static final int KEY_LENGTH = 56;
    private static final int MAX_ID = 128;
    private static final Pattern PLAIN_NODE = Pattern.compile("[A-Za-z0-9._-]+");
    private static final Pattern ID = Pattern.compile("snap-([0-9a-f]{56})-(~[0-9a-f]{16}|[A-Za-z0-9._-]+)");
    private static final Pattern KEY = Pattern.compile("[0-9a-f]{56}");

    private SnapshotIds() {}

    /** What an ID says. {@code node} is a node ID, or {@code ~} and a hash when the ID could not hold it. */
    public record Parsed(String key, String node) {
        /** Whether the snapshot was taken by the driver of node {@code nodeId}. */
        public boolean isOf(String nodeId) {
            return node.equals(nodePart(nodeId));
        }

        /** The node for a message: its ID, or a description of the hash. */
        public String describeNode() {
            return node.startsWith("~") ? "another node (whose ID hashes to " + node.substring(1) + ")" : "node \"" + node + "\"";
        }
    }

    /** The key of the snapshot named {@code name}: the name of its files. */
    public static String key(String name) {
        return hex(digest("SHA-224", name), KEY_LENGTH / 2);
    }

    public static String id(String key, String nodeId) {
        return PREFIX + key + "-" + nodePart(nodeId);
    }

    public static boolean isKey(String s) {
        return KEY.matcher(s).matches();
    }

    /** What {@code id} says, or empty when this driver did not make it. */
    public static Optional<Parsed> parse(String id) {
        if (id == null || id.length() > MAX_ID) {
            return Optional.empty();
        }
        Matcher m = ID.matcher(id);
        return m.matches() ? Optional.of(new Parsed(m.group(1), m.group(2))) : Optional.empty();
    }

    private static String nodePart(String nodeId) {
        if (PLAIN_NODE.matcher(nodeId).matches() && PREFIX.length() + KEY_LENGTH + 1 + nodeId.length() <= MAX_ID) {
            return nodeId;
        }
        return "~" + hex(digest("SHA-256", nodeId), 8);
    }

    private static byte[] digest(String algorithm, String s) {
        try {
            return MessageDigest.getInstance(algorithm).digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(algorithm + " is required by every Java runtime", e);
        }
    }

    private static String hex(byte[] bytes, int count) {
        return HexFormat.of().formatHex(bytes, 0, count);
    }
}
