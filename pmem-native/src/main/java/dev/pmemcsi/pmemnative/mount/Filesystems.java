package dev.pmemcsi.pmemnative.mount;

import dev.pmemcsi.pmemnative.CommandFailedException;
import dev.pmemcsi.pmemnative.CommandRunner;
import dev.pmemcsi.pmemnative.Native;
import dev.pmemcsi.pmemnative.NativeException;
import dev.pmemcsi.pmemnative.OpenFlags;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;

/**
 * Making filesystems laid out for DAX: 4 KiB blocks, and allocation aligned to 2 MiB so that a
 * file mapped with DAX can use huge pages.
 */
public final class Filesystems {

    public static final String EXT4 = "ext4";
    public static final String XFS = "xfs";

    /** mkfs of a large PMEM device takes seconds; a hung tool must not hold the volume forever. */
    private static final Duration MKFS_TIMEOUT = Duration.ofMinutes(10);

    /** The extent size hint that lets DAX files use 2 MiB pages. */
    public static final int EXTENT_SIZE_HINT = 2 * 1024 * 1024;

    // struct fsxattr (28 bytes) and its ioctls, as xfs_io uses them.
    private static final int FSXATTR_SIZE = 28;
    private static final long FS_IOC_FSGETXATTR = 0x801C581FL;
    private static final long FS_IOC_FSSETXATTR = 0x401C5820L;
    private static final int FS_XFLAG_EXTSZINHERIT = 0x1000;

    private final CommandRunner runner;

    public Filesystems(CommandRunner runner) {
        this.runner = runner;
    }

    /** The block size of every filesystem the driver makes. */
    public static final int BLOCK_SIZE = 4096;

    /**
     * The mkfs command for {@code fsType} on {@code device}. ext4: stride and stripe width of 512
     * blocks (2 MiB). xfs: stripe unit 2 MiB, and no reflink, which DAX does not support.
     */
    public static List<String> mkfsArgv(String fsType, Path device) {
        return mkfsArgv(fsType, device, 0);
    }

    /**
     * The mkfs command for a filesystem of {@code sizeBytes} (rounded down to whole 4 KiB blocks)
     * at the start of {@code device}; 0 fills the device. ext4 takes the size as a block count
     * after the device, xfs as {@code -d size=}.
     */
    public static List<String> mkfsArgv(String fsType, Path device, long sizeBytes) {
        if (sizeBytes < 0) {
            throw new IllegalArgumentException("negative filesystem size: " + sizeBytes);
        }
        long blocks = sizeBytes / BLOCK_SIZE;
        if (sizeBytes > 0 && blocks == 0) {
            throw new IllegalArgumentException("a filesystem needs at least one block, not " + sizeBytes + " bytes");
        }
        return switch (fsType) {
            case EXT4 -> {
                List<String> argv = new ArrayList<>(List.of("mkfs.ext4", "-q", "-b", "4096", "-E", "stride=512,stripe_width=512",
                        device.toString()));
                if (blocks > 0) {
                    argv.add(Long.toString(blocks));
                }
                yield List.copyOf(argv);
            }
            case XFS -> List.of("mkfs.xfs", "-q", "-b", "size=4096", "-m", "reflink=0", "-d",
                    "su=2m,sw=1" + (blocks > 0 ? ",size=" + blocks * BLOCK_SIZE : ""), device.toString());
            default -> throw new IllegalArgumentException("unsupported filesystem type: " + fsType);
        };
    }

    /**
     * The command that grows the mounted filesystem of {@code fsType} to {@code sizeBytes} (rounded
     * down to whole 4 KiB blocks). Both tools grow a mounted filesystem online: resize2fs takes the
     * device and the size in KiB, xfs_growfs the mount point and the size in filesystem blocks
     * ({@link #BLOCK_SIZE}, as the driver makes them). Neither shrinks a mounted filesystem.
     */
    public static List<String> growArgv(String fsType, Path device, Path mountPoint, long sizeBytes) {
        long blocks = sizeBytes / BLOCK_SIZE;
        if (blocks <= 0) {
            throw new IllegalArgumentException("a filesystem needs at least one block, not " + sizeBytes + " bytes");
        }
        return switch (fsType) {
            case EXT4 -> List.of("resize2fs", device.toString(), blocks * (BLOCK_SIZE / 1024) + "K");
            case XFS -> List.of("xfs_growfs", "-D", Long.toString(blocks), mountPoint.toString());
            default -> throw new IllegalArgumentException("unsupported filesystem type: " + fsType);
        };
    }

    /** Grows a mounted filesystem (see {@link #growArgv}). */
    public void grow(String fsType, Path device, Path mountPoint, long sizeBytes) throws CommandFailedException {
        runner.run(growArgv(fsType, device, mountPoint, sizeBytes), MKFS_TIMEOUT);
    }

    public void mkfs(String fsType, Path device) throws CommandFailedException {
        mkfs(fsType, device, 0);
    }

    /** Makes a filesystem of {@code sizeBytes} (see {@link #mkfsArgv(String, Path, long)}). */
    public void mkfs(String fsType, Path device, long sizeBytes) throws CommandFailedException {
        runner.run(mkfsArgv(fsType, device, sizeBytes), MKFS_TIMEOUT);
    }

    /**
     * Sets a 2 MiB extent size hint on an xfs directory, inherited by the files and directories
     * created below it, so that their extents come in huge-page-sized pieces. The same ioctls as
     * {@code xfs_io -c 'extsize 2m'}, without starting a process on every mount.
     */
    public static void setXfsExtentSize(Path dir) throws NativeException {
        int fd = Native.libc().open(dir.toString(), OpenFlags.O_RDONLY | OpenFlags.O_CLOEXEC, 0);
        if (fd < 0) {
            throw new NativeException("open(" + dir + ")", Native.errno());
        }
        try {
            Pointer attr = Memory.allocateDirect(Native.runtime(), FSXATTR_SIZE, true);
            Native.check(Native.libc().ioctl(fd, FS_IOC_FSGETXATTR, attr), "ioctl(" + dir + ", FS_IOC_FSGETXATTR)");
            if (attr.getInt(4) == EXTENT_SIZE_HINT && (attr.getInt(0) & FS_XFLAG_EXTSZINHERIT) != 0) {
                return;
            }
            attr.putInt(0, attr.getInt(0) | FS_XFLAG_EXTSZINHERIT);
            attr.putInt(4, EXTENT_SIZE_HINT);
            Native.check(Native.libc().ioctl(fd, FS_IOC_FSSETXATTR, attr), "ioctl(" + dir + ", FS_IOC_FSSETXATTR, extsize 2m)");
        } finally {
            Native.libc().close(fd);
        }
    }
}
