package dev.pmemcsi.pmemnative.mount;

import dev.pmemcsi.pmemnative.Native;
import dev.pmemcsi.pmemnative.NativeException;
import dev.pmemcsi.pmemnative.OpenFlags;
import java.nio.file.Path;
import jnr.constants.platform.Errno;

/**
 * FIFREEZE and FITHAW on a mounted filesystem, the ioctls behind {@code fsfreeze -f/-u}. A frozen
 * filesystem has written everything out and blocks every writer (write(2) and DAX page faults
 * alike, in state D) until it is thawed, so its device can be copied consistently meanwhile.
 *
 * <p>The freeze belongs to the superblock, not to the descriptor: it outlives the process that
 * made it. Whoever freezes must therefore make sure the filesystem is thawed, even after a crash.
 */
public final class FilesystemFreeze {

    /** _IOWR('X', 119, int) and _IOWR('X', 120, int). */
    private static final long FIFREEZE = 0xC0045877L;
    private static final long FITHAW = 0xC0045878L;

    private FilesystemFreeze() {}

    /**
     * Freezes the filesystem mounted at {@code mountPoint}.
     *
     * @throws NativeException EBUSY when it is frozen already, EOPNOTSUPP when the filesystem
     *                         cannot freeze
     */
    public static void freeze(Path mountPoint) throws NativeException {
        ioctl(mountPoint, FIFREEZE, "FIFREEZE");
    }

    /**
     * Thaws the filesystem mounted at {@code mountPoint}; returns false when it was not frozen
     * (the kernel's EINVAL), so that a repeated thaw, or one after a reboot, is no failure.
     */
    public static boolean thaw(Path mountPoint) throws NativeException {
        try {
            ioctl(mountPoint, FITHAW, "FITHAW");
            return true;
        } catch (NativeException e) {
            if (e.is(Errno.EINVAL)) {
                return false;
            }
            throw e;
        }
    }

    private static void ioctl(Path mountPoint, long request, String name) throws NativeException {
        int flags = OpenFlags.O_RDONLY | OpenFlags.O_CLOEXEC | OpenFlags.O_DIRECTORY;
        int fd = (int) Native.restartOnEintr(() -> Native.libc().open(mountPoint.toString(), flags, 0));
        Native.check(fd, "open(" + mountPoint + ")");
        try {
            Native.check((int) Native.restartOnEintr(() -> Native.libc().ioctl(fd, request, 0L)),
                    "ioctl(" + mountPoint + ", " + name + ")");
        } finally {
            Native.libc().close(fd);
        }
    }
}
