package dev.pmemcsi.node;

import dev.pmemcsi.driver.InvalidRequestException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Checks of the staging and target paths the CO sends. The driver mounts as root, so a path that
 * climbs out with {@code ..} or through a symlink could put a volume, or a bind of it, anywhere.
 */
public final class NodePaths {

    /** Linux's limits: a path with its terminating NUL, and one file name. */
    static final int PATH_MAX = 4096;
    static final int NAME_MAX = 255;

    private NodePaths() {}

    /**
     * The path in {@code value}: absolute, without {@code .} or {@code ..} components and without
     * NUL characters. Redundant slashes are dropped.
     */
    public static Path parse(String field, String value) throws InvalidRequestException {
        if (value == null || value.isEmpty()) {
            throw new InvalidRequestException(field + " must not be empty");
        }
        if (value.indexOf('\0') >= 0 || value.indexOf('\n') >= 0) {
            throw new InvalidRequestException(field + " contains a NUL or newline character");
        }
        Path p;
        try {
            p = Path.of(value);
        } catch (InvalidPathException e) {
            throw new InvalidRequestException(field + " is not a valid path: " + e.getMessage());
        }
        if (!p.isAbsolute()) {
            throw new InvalidRequestException(field + " must be an absolute path, not \"" + value + "\"");
        }
        for (Path part : p) {
            String s = part.toString();
            if (s.equals("..") || s.equals(".")) {
                throw new InvalidRequestException(field + " must be normalised, without \".\" or \"..\": \"" + value + "\"");
            }
        }
        if (p.getParent() == null) {
            throw new InvalidRequestException(field + " must not be the root directory");
        }
        // Longer paths or names could never be mounted (ENAMETOOLONG); refused before any work.
        if (value.getBytes(StandardCharsets.UTF_8).length >= PATH_MAX) {
            throw new InvalidRequestException(field + " is longer than the " + (PATH_MAX - 1)
                    + " bytes a Linux path may have");
        }
        for (Path part : p) {
            if (part.toString().getBytes(StandardCharsets.UTF_8).length > NAME_MAX) {
                throw new InvalidRequestException(field + " has a component longer than the " + NAME_MAX
                        + " bytes a Linux file name may have");
            }
        }
        return p;
    }

    /**
     * Where {@code path} really is: its parent with every symlink resolved, plus its own name.
     * The path itself must not be a symlink, since mount(2) would follow it to wherever it points.
     *
     * @throws NoSuchFileException when the parent does not exist
     */
    public static Path resolve(String field, Path path) throws InvalidRequestException, IOException {
        Path parent = path.getParent().toRealPath();
        Path real = parent.resolve(path.getFileName());
        if (Files.isSymbolicLink(real)) {
            throw new InvalidRequestException(field + " \"" + path + "\" is a symbolic link; the driver"
                    + " does not mount onto links");
        }
        return real;
    }

    /** Like {@link #resolve}, but falls back to {@code recorded} when the parent is gone. */
    static Path resolveOr(String field, Path path, Path recorded) throws InvalidRequestException, IOException {
        try {
            return resolve(field, path);
        } catch (NoSuchFileException e) {
            return recorded;
        }
    }

    static boolean exists(Path p) {
        return Files.exists(p, LinkOption.NOFOLLOW_LINKS);
    }
}
