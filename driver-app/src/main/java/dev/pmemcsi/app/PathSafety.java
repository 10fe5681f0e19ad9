package dev.pmemcsi.app;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * The driver keeps its state and socket only in directories that no one else can change: a state
 * dir writable by others would let them forge volume records, a socket dir writable by others
 * would let them replace the socket.
 */
final class PathSafety {

    private PathSafety() {}

    /** Creates {@code dir} (mode 0750) if missing; refuses one owned or writable by others. */
    static void requirePrivateDir(Path dir, String what) throws StartupException {
        try {
            if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
                Files.createDirectories(dir);
                Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-x---"));
            }
            PosixFileAttributes attrs = Files.readAttributes(dir, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!attrs.isDirectory()) {
                throw new StartupException(what + " " + dir + " is not a directory");
            }
            String owner = attrs.owner().getName();
            String me = System.getProperty("user.name");
            if (!owner.equals(me)) {
                throw new StartupException(what + " " + dir + " is owned by " + owner + ", not by " + me
                        + "; refusing to trust it");
            }
            Set<PosixFilePermission> perms = attrs.permissions();
            if (perms.contains(PosixFilePermission.GROUP_WRITE) || perms.contains(PosixFilePermission.OTHERS_WRITE)) {
                throw new StartupException(what + " " + dir + " is writable by group or others ("
                        + PosixFilePermissions.toString(perms) + "); run chmod go-w " + dir);
            }
        } catch (IOException e) {
            throw new StartupException("cannot prepare " + what + " " + dir + ": " + e.getMessage(), e);
        }
    }
}
