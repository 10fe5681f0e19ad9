package dev.pmemcsi.nativeio.mount;

import dev.pmemcsi.nativeio.Native;
import dev.pmemcsi.nativeio.NativeException;
import java.nio.file.Path;

/**
 * mount(2) and umount2(2). Each call says what it did in its exception, errno included; callers
 * decide whether, say, EINVAL on unmount means "was not mounted".
 */
public final class Mounter {

    /** Do not follow a symlink at the target of umount2. */
    public static final int UMOUNT_NOFOLLOW = 8;

    /** Mounts the filesystem on {@code device} at {@code target}. */
    public void mount(Path device, Path target, String fsType, MountOptions options) throws NativeException {
        Native.check(Native.libc().mount(device.toString(), target.toString(), fsType, options.flags(),
                        options.data().isEmpty() ? null : options.data()),
                "mount(" + device + ", " + target + ", " + fsType + ", " + describe(options) + ")");
    }

    /**
     * Bind-mounts {@code source} (a directory, or a device node onto a file) at {@code target}, then,
     * when {@code perMountFlags} asks for any, remounts the bind with them: mount(2) ignores flags
     * such as {@code MS_RDONLY} on the initial bind.
     */
    public void bind(Path source, Path target, long perMountFlags) throws NativeException {
        Native.check(Native.libc().mount(source.toString(), target.toString(), null, MountOptions.MS_BIND, null),
                "mount(" + source + ", " + target + ", MS_BIND)");
        long flags = perMountFlags & MountOptions.PER_MOUNT_FLAGS;
        if (flags != 0) {
            try {
                remountBind(target, flags);
            } catch (NativeException e) {
                // A bind without the requested restrictions must not stay behind.
                try {
                    unmount(target);
                } catch (NativeException suppressed) {
                    e.addSuppressed(suppressed);
                }
                throw e;
            }
        }
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
