package dev.pmemcsi.pmemnative;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * Directories and files the driver keeps its state in must be changeable by no one else: a
 * directory others can write to lets them plant links or forge records, which a driver running as
 * root would then follow or trust. Every check reads the path itself, never a symlink's target.
 */
public final class TrustedPaths {

    /** A path that exists but cannot be trusted; the message says why and what to fix. */
    public static final class UntrustedPathException extends IOException {
        private static final long serialVersionUID = 1L;

        public UntrustedPathException(String message) {
            super(message);
        }
    }

    private TrustedPaths() {}

    /**
     * Creates {@code dir} (mode 0750) if missing; refuses one that is not a directory, is owned by
     * another user than the driver's, or is writable by group or others.
     *
     * @param what how the message names the directory, e.g. {@code state dir}
     */
    public static void requirePrivateDir(Path dir, String what) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            Files.createDirectories(dir);
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-x---"));
        }
        PosixFileAttributes attrs = Files.readAttributes(dir, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (!attrs.isDirectory()) {
            throw new UntrustedPathException(what + " " + dir + " is not a directory");
        }
        requireOwnedByMe(dir, what, attrs);
        Set<PosixFilePermission> perms = attrs.permissions();
        if (perms.contains(PosixFilePermission.GROUP_WRITE) || perms.contains(PosixFilePermission.OTHERS_WRITE)) {
            throw new UntrustedPathException(what + " " + dir + " is writable by group or others ("
                    + PosixFilePermissions.toString(perms) + "); run chmod go-w " + dir);
        }
    }

    /**
     * Refuses {@code file} unless it is a regular file (not a symlink, device or directory) owned
     * by the driver's user. Returns its attributes, whose {@code fileKey()} identifies it.
     */
    public static PosixFileAttributes requireOwnRegularFile(Path file, String what) throws IOException {
        PosixFileAttributes attrs = Files.readAttributes(file, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (!attrs.isRegularFile()) {
            String kind = attrs.isSymbolicLink() ? "a symbolic link" : attrs.isDirectory() ? "a directory" : "a special file";
            throw new UntrustedPathException(what + " " + file + " is not a regular file but " + kind
                    + "; refusing to use it (move it away)");
        }
        requireOwnedByMe(file, what, attrs);
        return attrs;
    }

    private static void requireOwnedByMe(Path path, String what, PosixFileAttributes attrs) throws UntrustedPathException {
        String owner = attrs.owner().getName();
        String me = System.getProperty("user.name");
        if (!owner.equals(me)) {
            throw new UntrustedPathException(what + " " + path + " is owned by " + owner + ", not by " + me
                    + "; refusing to trust it");
        }
    }
}
