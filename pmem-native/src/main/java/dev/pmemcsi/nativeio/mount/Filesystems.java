package dev.pmemcsi.nativeio.mount;

import dev.pmemcsi.nativeio.CommandFailedException;
import dev.pmemcsi.nativeio.CommandRunner;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Making filesystems laid out for DAX: 4 KiB blocks, and allocation aligned to 2 MiB so that a
 * file mapped with DAX can use huge pages.
 */
public final class Filesystems {

    public static final String EXT4 = "ext4";
    public static final String XFS = "xfs";

    /** mkfs of a large PMEM device takes seconds; a hung tool must not hold the volume forever. */
    private static final Duration MKFS_TIMEOUT = Duration.ofMinutes(10);
    private static final Duration XFS_IO_TIMEOUT = Duration.ofSeconds(60);

    private final CommandRunner runner;

    public Filesystems(CommandRunner runner) {
        this.runner = runner;
    }

    /**
     * The mkfs command for {@code fsType} on {@code device}. ext4: stride and stripe width of 512
     * blocks (2 MiB). xfs: stripe unit 2 MiB, and no reflink, which DAX does not support.
     */
    public static List<String> mkfsArgv(String fsType, Path device) {
        return switch (fsType) {
            case EXT4 -> List.of("mkfs.ext4", "-q", "-b", "4096", "-E", "stride=512,stripe_width=512", device.toString());
            case XFS -> List.of("mkfs.xfs", "-q", "-b", "size=4096", "-m", "reflink=0", "-d", "su=2m,sw=1", device.toString());
            default -> throw new IllegalArgumentException("unsupported filesystem type: " + fsType);
        };
    }

    /**
     * Sets a 2 MiB extent size hint on an xfs directory; new files and directories below inherit
     * it, so their extents come in huge-page-sized pieces.
     */
    public static List<String> extsizeArgv(Path dir) {
        return List.of("xfs_io", "-c", "extsize 2m", dir.toString());
    }

    public void mkfs(String fsType, Path device) throws CommandFailedException {
        runner.run(mkfsArgv(fsType, device), MKFS_TIMEOUT);
    }

    public void setXfsExtentSize(Path dir) throws CommandFailedException {
        runner.run(extsizeArgv(dir), XFS_IO_TIMEOUT);
    }
}
