package dev.pmemcsi.controller.snapshot;

import dev.pmemcsi.pmemnative.CommandFailedException;
import dev.pmemcsi.pmemnative.CommandRunner;
import dev.pmemcsi.pmemnative.NativeException;
import dev.pmemcsi.pmemnative.mount.Filesystems;
import dev.pmemcsi.pmemnative.mount.MountInfo;
import dev.pmemcsi.pmemnative.mount.MountOptions;
import dev.pmemcsi.pmemnative.mount.MountTable;
import dev.pmemcsi.pmemnative.mount.Mounter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes a copied filesystem a volume of its own, before anyone stages it:
 *
 * <ul>
 *   <li><b>consistent:</b> an xfs image of a frozen filesystem has a dirty log, and a read-only
 *       mount of it fails; it is mounted read-write once, privately, which replays the log. ext4
 *       is checked with {@code e2fsck -f -y};</li>
 *   <li><b>its own UUID:</b> the source and the copy may be mounted on the same node at the same
 *       time, which xfs refuses for two filesystems with one UUID, and tools that find
 *       filesystems by UUID would confuse them. xfs gets one with {@code xfs_db -x -c 'uuid
 *       generate'} (what {@code xfs_admin -U generate} runs, without its shell), ext4 with
 *       {@code tune2fs -U random};</li>
 *   <li><b>as large as the volume:</b> a copy into a larger volume is grown to its capacity,
 *       ext4 offline with {@code resize2fs}, xfs during the private mount with {@code xfs_growfs}.</li>
 * </ul>
 *
 * The private mounts live in a directory of the driver's own state; a crash may leave one, which
 * {@link #releaseLeftovers} unmounts at the next start.
 */
public final class RestoredFilesystem {

    private static final Logger LOG = LoggerFactory.getLogger(RestoredFilesystem.class);
    private static final Duration TIMEOUT = Duration.ofMinutes(10);
    private static final Pattern BLOCK_COUNT = Pattern.compile("(?m)^Block count:\\s+(\\d+)");
    private static final Pattern BLOCK_SIZE = Pattern.compile("(?m)^Block size:\\s+(\\d+)");
    private static final Pattern DBLOCKS = Pattern.compile("dblocks = (\\d+)");
    private static final Pattern XFS_BLOCK_SIZE = Pattern.compile("blocksize = (\\d+)");

    private final CommandRunner runner;
    private final Mounter mounter;
    private final Path mountDir;

    public RestoredFilesystem(CommandRunner runner, Mounter mounter, Path mountDir) {
        this.runner = runner;
        this.mounter = mounter;
        this.mountDir = mountDir;
    }

    /** Unmounts whatever an interrupted preparation left mounted in the private directory. */
    public int releaseLeftovers() throws IOException {
        Files.createDirectories(mountDir);
        int released = 0;
        for (MountInfo m : MountTable.read().under(mountDir)) {
            try {
                mounter.unmount(Path.of(m.mountPoint()));
                released++;
            } catch (NativeException e) {
                LOG.error("cannot unmount {}, left by an interrupted restore: {}", m.mountPoint(), e.getMessage());
            }
        }
        return released;
    }

    /**
     * Prepares the {@code fsType} filesystem at the start of {@code device} as described above,
     * growing it to {@code fsBytes} when it is smaller. Nothing else may use the device meanwhile.
     */
    public void prepare(String volumeId, String fsType, Path device, long fsBytes)
            throws CommandFailedException, NativeException, IOException {
        switch (fsType) {
            case Filesystems.EXT4 -> ext4(device, fsBytes);
            case Filesystems.XFS -> xfs(volumeId, device, fsBytes);
            default -> throw new IllegalArgumentException("no preparation for " + fsType);
        }
    }

    private void ext4(Path device, long fsBytes) throws CommandFailedException {
        List<String> fsck = List.of("e2fsck", "-f", "-y", device.toString());
        CommandRunner.Result r = runner.runAllowingFailure(fsck, TIMEOUT);
        // 0: clean; 1: errors corrected. Anything else leaves errors behind.
        if (r.exitCode() > 1) {
            throw new CommandFailedException(fsck, r.exitCode(), r.stderr().isBlank() ? r.stdout() : r.stderr());
        }
        String header = runner.run(List.of("dumpe2fs", "-h", device.toString()), TIMEOUT).stdout();
        long blocks = number(BLOCK_COUNT, header, "dumpe2fs block count");
        long blockSize = number(BLOCK_SIZE, header, "dumpe2fs block size");
        long want = fsBytes / blockSize;
        if (want > blocks) {
            runner.run(List.of("resize2fs", device.toString(), want * (blockSize / 1024) + "K"), TIMEOUT);
            LOG.info("grew the restored ext4 filesystem on {} from {} to {} blocks", device, blocks, want);
        }
        runner.run(List.of("tune2fs", "-U", "random", device.toString()), TIMEOUT);
    }

    private void xfs(String volumeId, Path device, long fsBytes) throws CommandFailedException, NativeException,
            IOException {
        String sb = runner.run(List.of("xfs_db", "-r", "-c", "sb 0", "-c", "print dblocks blocksize",
                device.toString()), TIMEOUT).stdout();
        long blocks = number(DBLOCKS, sb, "xfs_db dblocks");
        long blockSize = number(XFS_BLOCK_SIZE, sb, "xfs_db blocksize");
        long want = fsBytes / blockSize;
        Path dir = mountDir.resolve(volumeId);
        Files.createDirectories(dir);
        // nouuid: the source of a clone may be mounted on this node with the same UUID.
        mounter.mount(device, dir, Filesystems.XFS, new MountOptions(0, "nouuid"));
        try {
            if (want > blocks) {
                runner.run(List.of("xfs_growfs", "-D", Long.toString(want), dir.toString()), TIMEOUT);
                LOG.info("grew the restored xfs filesystem on {} from {} to {} blocks", device, blocks, want);
            }
        } finally {
            mounter.unmount(dir);
            Files.deleteIfExists(dir);
        }
        runner.run(List.of("xfs_db", "-x", "-c", "uuid generate", device.toString()), TIMEOUT);
    }

    private static long number(Pattern p, String text, String what) {
        Matcher m = p.matcher(text);
        if (!m.find()) {
            throw new IllegalStateException(what + " not found in: " + text.strip());
        }
        return Long.parseLong(m.group(1));
    }
}
