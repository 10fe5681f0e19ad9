package dev.pmemcsi.pmemnative.mount;

import dev.pmemcsi.pmemnative.Native;
import dev.pmemcsi.pmemnative.NativeException;
import java.nio.file.Path;
import jnr.posix.FileStat;
import jnr.posix.POSIX;

/** The {@code major:minor} of a block device, as mountinfo names the device of each mount. */
public record DeviceNumber(int major, int minor) {

    /**
     * The device number of the block device node at {@code path} (following symlinks, as
     * {@code /dev/disk/by-…} names are).
     *
     * @throws NativeException ENOENT when it does not exist, ENOTBLK when it is not a block device
     */
    public static DeviceNumber ofBlockDevice(Path path) throws NativeException {
        POSIX posix = Native.posix();
        FileStat st = posix.allocateStat();
        if (posix.stat(path.toString(), st) < 0) {
            throw new NativeException("stat(" + path + ")", posix.errno());
        }
        if (!st.isBlockDev()) {
            throw new NativeException("stat(" + path + ")", jnr.constants.platform.Errno.ENOTBLK.intValue(),
                    "not a block device");
        }
        return fromRdev(st.rdev());
    }

    /** Decodes Linux's dev_t encoding (glibc's gnu_dev_major/minor). */
    static DeviceNumber fromRdev(long rdev) {
        int major = (int) (((rdev >>> 8) & 0xfffL) | ((rdev >>> 32) & ~0xfffL));
        int minor = (int) ((rdev & 0xffL) | ((rdev >>> 12) & ~0xffL));
        return new DeviceNumber(major, minor);
    }

    public boolean matches(MountInfo m) {
        return m.major() == major && m.minor() == minor;
    }

    @Override
    public String toString() {
        return major + ":" + minor;
    }
}
