package dev.pmemcsi.node;

import dev.pmemcsi.device.VolumeNotFoundException;
import dev.pmemcsi.driver.InvalidRequestException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.List;

/**
 * Checks of the staging and target paths the CO sends. The driver mounts, formats and deletes as
 * root, so a path that climbs out with {@code ..} or through a symlink, or simply names a host
 * directory, could put a volume, or a bind of it, anywhere. Kubelet only ever sends paths below
 * {@code <kubelet-dir>/plugins/} (staging) and {@code <kubelet-dir>/pods/} (targets), so every
 * path must really lie strictly below one of them, and nowhere in the driver's own directories.
 */
public final class NodePaths {

    /** Linux's limits: a path with its terminating NUL, and one file name. */
    static final int PATH_MAX = 4096;
    static final int NAME_MAX = 255;

    private final Path kubeletDir;
    private final List<Path> trees;
    private final List<Own> reserved;

    /**
     * One of the driver's own directories: its path, and its identity (device and inode), which
     * also recognises it under another name, such as a DaemonSet's socket dir that the container
     * sees both at {@code /csi} and below the kubelet dir.
     */
    private record Own(Path path, Object key) {
        static Own of(Path dir) throws IOException {
            Path p = realOrLocated(dir.toAbsolutePath().normalize());
            return new Own(p, fileKey(p));
        }
    }

    private NodePaths(Path kubeletDir, List<Path> trees, List<Own> reserved) {
        this.kubeletDir = kubeletDir;
        this.trees = trees;
        this.reserved = reserved;
    }

    /**
     * Paths confined to the kubelet trees below {@code kubeletDir}.
     *
     * @param kubeletDir kubelet's root directory; resolved here, once, so a symlinked root works
     * @param reserved   the driver's own directories (state, emulated regions, socket): no path may
     *                   be, contain or lie inside one of them, even when they are below kubelet's
     * @throws NoSuchFileException when {@code kubeletDir} does not exist
     */
    public static NodePaths confinedTo(Path kubeletDir, Collection<Path> reserved) throws IOException {
        Path real = kubeletDir.toAbsolutePath().toRealPath();
        if (!Files.isDirectory(real)) {
            throw new NoSuchFileException(kubeletDir.toString(), null, "not a directory");
        }
        List<Path> trees = List.of(realOrLocated(real.resolve("plugins")), realOrLocated(real.resolve("pods")));
        List<Own> own = new ArrayList<>();
        for (Path p : reserved) {
            own.add(Own.of(p));
        }
        return new NodePaths(real, trees, List.copyOf(own));
    }

    /** The same confinement, with one more directory of the driver's own. */
    public NodePaths reserving(Path dir) throws IOException {
        List<Own> own = new ArrayList<>(reserved);
        own.add(Own.of(dir));
        return new NodePaths(kubeletDir, trees, List.copyOf(own));
    }

    /** Kubelet's root directory, resolved. */
    public Path kubeletDir() {
        return kubeletDir;
    }

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
     * Checks that {@code path} is one the driver may act on, and returns where it really is as far
     * as it exists (see {@link #locate}). Its parent need not exist yet.
     *
     * @throws InvalidRequestException when it lies outside the kubelet trees or in the driver's own directories
     */
    public Path confine(String field, Path path) throws InvalidRequestException, IOException {
        Path located = locate(path);
        String why = refusal(located);
        if (why != null) {
            throw new InvalidRequestException(field + " \"" + path + "\"" + (located.equals(path) ? "" : " (really "
                    + located + ")") + " " + why);
        }
        return located;
    }

    /** Whether {@link #confine} would accept {@code path}. */
    public boolean allows(Path path) {
        try {
            return refusal(locate(path)) == null;
        } catch (IOException e) {
            return false;
        }
    }

    /** Why the driver may not act on {@code located}, or null when it may. */
    private String refusal(Path located) {
        for (Own own : reserved) {
            if (located.startsWith(own.path()) || own.path().startsWith(located)) {
                return "is, contains or lies inside the driver's own directory " + own.path();
            }
        }
        // The same directories under another name: the path or one of its existing ancestors is one.
        for (Path p = located; p != null; p = p.getParent()) {
            Object key = fileKey(p);
            if (key == null) {
                continue;
            }
            for (Own own : reserved) {
                if (key.equals(own.key())) {
                    return "is or lies inside the driver's own directory " + own.path() + " (as " + p + ")";
                }
            }
        }
        for (Path tree : trees) {
            if (located.startsWith(tree) && !located.equals(tree)) {
                return null;
            }
        }
        return "lies outside kubelet's trees " + trees.get(0) + "/ and " + trees.get(1) + "/ (--kubelet-dir "
                + kubeletDir + ")";
    }

    /**
     * Where {@code path} really is: its parent with every symlink resolved, plus its own name,
     * confined like {@link #confine}. The path itself must not be a symlink, since mount(2)
     * would follow it to wherever it points.
     *
     * @throws NoSuchFileException when the parent does not exist
     */
    public Path resolve(String field, Path path) throws InvalidRequestException, IOException {
        Path parent = path.getParent().toRealPath();
        Path real = parent.resolve(path.getFileName());
        if (Files.isSymbolicLink(real)) {
            throw new InvalidRequestException(field + " \"" + path + "\" is a symbolic link; the driver"
                    + " does not mount onto links");
        }
        confine(field, real);
        return real;
    }

    /** Like {@link #resolve}, but falls back to {@code recorded}, also confined, when the parent is gone. */
    Path resolveOr(String field, Path path, Path recorded) throws InvalidRequestException, IOException {
        try {
            return resolve(field, path);
        } catch (NoSuchFileException e) {
            confine(field, recorded);
            return recorded;
        }
    }

    /**
     * {@code path} with its longest existing ancestor resolved (symlinks followed) and the
     * missing rest appended as it is. Its last component is never followed: the driver acts on
     * the name itself, and {@link #resolve} refuses a symlink there.
     */
    static Path locate(Path path) throws IOException {
        Path parent = path.getParent();
        if (parent == null) {
            return path;
        }
        Deque<Path> missing = new ArrayDeque<>();
        Path existing = parent;
        while (true) {
            try {
                Path real = existing.toRealPath();
                for (Path name : missing) {
                    real = real.resolve(name);
                }
                return real.resolve(path.getFileName());
            } catch (FileSystemException e) {
                // Missing, or not a directory, or a loop: the rest cannot exist, so the operation
                // itself will fail; here only the existing part decides where the path points.
                if (existing.getParent() == null) {
                    throw e;
                }
                missing.addFirst(existing.getFileName());
                existing = existing.getParent();
            }
        }
    }

    /** Device and inode of {@code p}, or null when it does not exist. */
    private static Object fileKey(Path p) {
        try {
            return Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
        } catch (IOException e) {
            return null;
        }
    }

    /** A directory of fixed meaning: followed all the way when it exists, else located. */
    private static Path realOrLocated(Path p) throws IOException {
        try {
            return p.toRealPath();
        } catch (FileSystemException e) {
            return locate(p);
        }
    }

    static boolean exists(Path p) {
        return Files.exists(p, LinkOption.NOFOLLOW_LINKS);
    }

    /**
     * The volume_path of NodeGetVolumeStats or NodeExpandVolume. The driver never puts a volume at
     * a path it would refuse, so such a path holds no volume: NOT_FOUND, not INVALID_ARGUMENT.
     */
    Path volumePath(String volumeId, String given) throws VolumeNotFoundException {
        Path path;
        try {
            path = parse("volume_path", given);
        } catch (InvalidRequestException e) {
            throw new VolumeNotFoundException("volume " + volumeId + " does not exist on the specified path: "
                    + e.getMessage());
        }
        if (!allows(path)) {
            throw new VolumeNotFoundException("volume " + volumeId + " does not exist on the specified path: volume_path "
                    + path + " lies outside the kubelet trees (or in the driver's own directories)");
        }
        return path;
    }
}
