package dev.pmemcsi.pmemnative.mount;

import dev.pmemcsi.pmemnative.Native;
import dev.pmemcsi.pmemnative.NativeException;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.UUID;
import jnr.constants.platform.Errno;

/**
 * mount(2) and umount2(2). Each call says what it did in its exception, errno included; callers
 * decide whether, say, EINVAL on unmount means "was not mounted".
 */
public final class Mounter {

    /** Do not follow a symlink at the target of umount2. */
    public static final int UMOUNT_NOFOLLOW = 8;
    private static final int MNT_DETACH = 2;
    private static final String POINT = "mount";

    private final Path privateDir;

    /** A mounter that binds only without per-mount flags; see {@link #Mounter(Path)}. */
    public Mounter() {
        this.privateDir = null;
    }

    /**
     * @param privateDir a directory of this mounter's own, on a filesystem no one else mounts
     *                   into, where {@link #bind} prepares binds with per-mount flags
     */
    public Mounter(Path privateDir) {
        this.privateDir = privateDir;
    }

    /** Mounts the filesystem on {@code device} at {@code target}. */
    public void mount(Path device, Path target, String fsType, MountOptions options) throws NativeException {
        Native.check(Native.libc().mount(device.toString(), target.toString(), fsType, options.flags(),
                        options.data().isEmpty() ? null : options.data()),
                "mount(" + device + ", " + target + ", " + fsType + ", " + describe(options) + ")");
    }

    /**
     * Bind-mounts {@code source} (a directory, or a device node onto a file) at {@code target} with
     * exactly the per-mount flags {@code perMountFlags} asks for, in every peer of the target.
     *
     * <p>mount(2) ignores flags such as {@code MS_RDONLY} on a bind, and a later remount changes
     * only the one mount it names: where {@code target} lies in a shared mount (the kubelet dir,
     * shared between the driver's container and the host), the copies propagated to the peers
     * would keep the source's flags, so the host, and the pod it starts, would get a writable
     * volume. So the source is first bound in a private place of {@link #privateDir}, from where
     * nothing propagates, remounted there with the flags, and only that finished mount is bound
     * at the target: every copy the kernel propagates is a clone of it, flags included. The
     * private bind is then detached; the target keeps its own reference. On failure nothing is
     * left mounted, neither at the target nor in the private place; a crash may leave the private
     * place mounted, which {@link #releasePrivateBinds} removes.
     *
     * @throws IllegalStateException when flags are asked for and this mounter has no private directory
     */
    public void bind(Path source, Path target, long perMountFlags) throws NativeException, IOException {
        long flags = perMountFlags & MountOptions.PER_MOUNT_FLAGS;
        if (flags == 0) {
            bindAsIs(source, target);
            return;
        }
        if (privateDir == null) {
            throw new IllegalStateException("a bind with per-mount flags needs a private directory");
        }
        Files.createDirectories(privateDir);
        Path place = Files.createDirectory(privateDir.resolve(UUID.randomUUID().toString()));
        Path point = place.resolve(POINT);
        Deque<Path> mounted = new ArrayDeque<>();
        boolean targetBound = false;
        try {
            if (Files.isDirectory(source)) {
                Files.createDirectory(point);
            } else {
                Files.createFile(point);
            }
            // The place becomes a mount of its own so that it can be private whatever
            // propagation the state directory's mount has.
            bindAsIs(place, place);
            mounted.push(place);
            Native.check(Native.libc().mount(null, place.toString(), null, MountOptions.MS_PRIVATE, null),
                    "mount(" + place + ", MS_PRIVATE)");
            bindAsIs(source, point);
            mounted.push(point);
            remountBind(point, flags);
            bindAsIs(point, target);
            targetBound = true;
            while (!mounted.isEmpty()) {
                detach(mounted.peek());
                mounted.pop();
            }
            Files.delete(point);
            Files.delete(place);
        } catch (NativeException | IOException | RuntimeException | Error e) {
            if (targetBound) {
                // Detaching the private bind failed: report the whole bind as failed.
                try {
                    unmount(target);
                } catch (NativeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            while (!mounted.isEmpty()) {
                try {
                    detach(mounted.pop());
                } catch (NativeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            try {
                Files.deleteIfExists(point);
                Files.deleteIfExists(place);
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /**
     * Removes what an interrupted {@link #bind} left in the private directory: its mounts and
     * places. Call it before the first bind, when no bind runs. Returns how many places it removed.
     */
    public int releasePrivateBinds() throws NativeException, IOException {
        if (privateDir == null || !Files.isDirectory(privateDir)) {
            return 0;
        }
        List<Path> mounts = MountTable.read().under(privateDir).stream()
                .map(m -> Path.of(m.mountPoint())).sorted(Comparator.reverseOrder()).toList();
        for (Path m : mounts) {
            try {
                detach(m);
            } catch (NativeException e) {
                if (!e.is(Errno.EINVAL)) {
                    throw e;
                }
                // already gone with its parent
            }
        }
        int removed = 0;
        try (DirectoryStream<Path> places = Files.newDirectoryStream(privateDir)) {
            for (Path place : places) {
                Files.deleteIfExists(place.resolve(POINT));
                Files.delete(place);
                removed++;
            }
        }
        return removed;
    }

    private void bindAsIs(Path source, Path target) throws NativeException {
        Native.check(Native.libc().mount(source.toString(), target.toString(), null, MountOptions.MS_BIND, null),
                "mount(" + source + ", " + target + ", MS_BIND)");
    }

    /** Lazily unmounts {@code target}: it goes away at once, its users keep their references. */
    private void detach(Path target) throws NativeException {
        Native.check(Native.libc().umount2(target.toString(), UMOUNT_NOFOLLOW | MNT_DETACH),
                "umount2(" + target + ", MNT_DETACH)");
    }

    /** Changes the per-mount flags of the bind mount at {@code target} to exactly {@code flags}. */
    public void remountBind(Path target, long flags) throws NativeException {
        long all = MountOptions.MS_REMOUNT | MountOptions.MS_BIND | (flags & MountOptions.PER_MOUNT_FLAGS);
        Native.check(Native.libc().mount(null, target.toString(), null, all, null),
                "mount(" + target + ", MS_REMOUNT|MS_BIND, flags 0x" + Long.toHexString(flags) + ")");
    }

    /** Unmounts the topmost mount at {@code target}; fails with EINVAL when nothing is mounted there. */
    public void unmount(Path target) throws NativeException {
        Native.check(Native.libc().umount2(target.toString(), UMOUNT_NOFOLLOW), "umount2(" + target + ")");
    }

    private static String describe(MountOptions o) {
        return "flags 0x" + Long.toHexString(o.flags()) + (o.data().isEmpty() ? "" : ", \"" + o.data() + "\"");
    }
}
