package dev.pmemcsi.pmemnative.loop;

import dev.pmemcsi.pmemnative.BlockDevice;
import dev.pmemcsi.pmemnative.LibC;
import dev.pmemcsi.pmemnative.Native;
import dev.pmemcsi.pmemnative.NativeException;
import dev.pmemcsi.pmemnative.OpenFlags;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import jnr.constants.platform.Errno;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loop devices through the kernel's ioctls, without losetup.
 *
 * <p>Devices are attached without {@code LO_FLAGS_AUTOCLEAR}: the caller keeps no descriptor open,
 * and the device must outlive the process that made it. A label in {@code lo_file_name} lets the
 * caller find its own devices again after a restart, when the backing file's path may read
 * differently (another mount namespace).
 *
 * <p>Discovery reads sysfs ({@code /sys/block/loopN/loop/}), which exists only while a device is
 * bound; the label and the backing file's device and inode come from {@code LOOP_GET_STATUS64}.
 */
public final class LoopDevices {

    private static final Logger LOG = LoggerFactory.getLogger(LoopDevices.class);

    private static final long LOOP_SET_FD = 0x4C00L;
    private static final long LOOP_CLR_FD = 0x4C01L;
    private static final long LOOP_SET_STATUS64 = 0x4C04L;
    private static final long LOOP_GET_STATUS64 = 0x4C05L;
    private static final long LOOP_SET_CAPACITY = 0x4C07L;
    private static final long LOOP_CONFIGURE = 0x4C0AL;
    private static final long LOOP_CTL_GET_FREE = 0x4C82L;

    /** Kernel's LO_NAME_SIZE: the label holds 63 bytes and a NUL. */
    public static final int MAX_LABEL_BYTES = 63;

    /** struct loop_info64. */
    private static final int INFO_SIZE = 232;
    private static final int INFO_DEVICE = 0;
    private static final int INFO_INODE = 8;
    private static final int INFO_OFFSET = 24;
    private static final int INFO_SIZELIMIT = 32;
    private static final int INFO_FLAGS = 52;
    private static final int INFO_FILE_NAME = 56;
    private static final int LO_NAME_SIZE = 64;
    /** struct loop_config: fd, block_size, loop_info64, 8 reserved u64. */
    private static final int CONFIG_SIZE = 8 + INFO_SIZE + 64;
    private static final int CONFIG_INFO = 8;

    private static final int LOOP_MAJOR = 7;
    private static final int S_IFBLK = 0x6000;
    /** GET_FREE hands the same number to racing callers; the losers see EBUSY and try again. */
    private static final int ATTACH_ATTEMPTS = 32;
    private static final Duration NODE_WAIT = Duration.ofSeconds(2);

    private final Path sysBlock;
    private final Path dev;
    /** Cleared once LOOP_CONFIGURE turns out to be unknown to the kernel (before 5.8). */
    private volatile boolean configureSupported = true;

    public LoopDevices() {
        this(Path.of("/sys/block"), Path.of("/dev"));
    }

    LoopDevices(Path sysBlock, Path dev) {
        this.sysBlock = sysBlock;
        this.dev = dev;
    }

    /**
     * Binds a free loop device to {@code [offset, offset + sizeLimit)} of {@code backingFile}.
     *
     * @param label stored in {@code lo_file_name}, at most {@link #MAX_LABEL_BYTES} bytes of ASCII
     */
    public LoopDevice attach(Path backingFile, long offset, long sizeLimit, String label) throws NativeException {
        byte[] name = label.getBytes(StandardCharsets.US_ASCII);
        if (name.length > MAX_LABEL_BYTES) {
            throw new IllegalArgumentException("loop label longer than " + MAX_LABEL_BYTES + " bytes: " + label);
        }
        if (offset < 0 || sizeLimit <= 0) {
            throw new IllegalArgumentException("bad loop range " + offset + "+" + sizeLimit);
        }
        LibC libc = Native.libc();
        // Never through a link: a planted one would bind the device to a file the caller did not mean.
        int fileFd = Native.check(libc.open(backingFile.toString(), OpenFlags.O_RDWR | OpenFlags.O_NOFOLLOW | OpenFlags.O_CLOEXEC, 0),
                "open(" + backingFile + ")");
        try {
            int ctl = Native.check(libc.open(dev.resolve("loop-control").toString(), OpenFlags.O_RDWR | OpenFlags.O_CLOEXEC, 0),
                    "open(" + dev.resolve("loop-control") + ")");
            try {
                for (int attempt = 0; attempt < ATTACH_ATTEMPTS; attempt++) {
                    int n = Native.check(libc.ioctl(ctl, LOOP_CTL_GET_FREE, 0L), "ioctl(loop-control, LOOP_CTL_GET_FREE)");
                    Path node = ensureNode(n);
                    try {
                        bind(node, fileFd, offset, sizeLimit, name);
                    } catch (NativeException e) {
                        // EBUSY: bound by a racing caller; ENXIO: removed meanwhile.
                        if (e.is(Errno.EBUSY) || e.is(Errno.ENXIO)) {
                            LOG.debug("{} was taken by someone else, trying another loop device", node);
                            continue;
                        }
                        throw e;
                    }
                    LoopDevice bound = get(n).orElseThrow(() -> new NativeException("attach(" + node + ")", Errno.ENXIO.intValue(),
                            "device vanished right after it was configured"));
                    LOG.debug("attached {} to {} at {}+{} ({})", node, backingFile, offset, sizeLimit, label);
                    return bound;
                }
                throw new NativeException("attach(" + backingFile + ")", Errno.EBUSY.intValue(),
                        "every free loop device was taken by others in " + ATTACH_ATTEMPTS + " attempts");
            } finally {
                libc.close(ctl);
            }
        } finally {
            libc.close(fileFd);
        }
    }

    private void bind(Path node, int fileFd, long offset, long sizeLimit, byte[] name) throws NativeException {
        LibC libc = Native.libc();
        int loopFd = Native.check(libc.open(node.toString(), OpenFlags.O_RDWR | OpenFlags.O_CLOEXEC, 0), "open(" + node + ")");
        try {
            if (configureSupported) {
                Pointer config = Memory.allocateDirect(Native.runtime(), CONFIG_SIZE, true);
                config.putInt(0, fileFd);
                fillInfo(config, CONFIG_INFO, offset, sizeLimit, name);
                if (libc.ioctl(loopFd, LOOP_CONFIGURE, config) == 0) {
                    return;
                }
                int errno = Native.errno();
                // Kernels before 5.8 answer an unknown loop ioctl with EINVAL (older ones ENOTTY).
                if (errno != Errno.EINVAL.intValue() && errno != Errno.ENOTTY.intValue()) {
                    throw new NativeException("ioctl(" + node + ", LOOP_CONFIGURE)", errno);
                }
                LOG.info("LOOP_CONFIGURE not supported ({}), using LOOP_SET_FD and LOOP_SET_STATUS64",
                        NativeException.describe(errno));
                configureSupported = false;
            }
            Native.check(libc.ioctl(loopFd, LOOP_SET_FD, (long) fileFd), "ioctl(" + node + ", LOOP_SET_FD)");
            Pointer info = Memory.allocateDirect(Native.runtime(), INFO_SIZE, true);
            fillInfo(info, 0, offset, sizeLimit, name);
            if (libc.ioctl(loopFd, LOOP_SET_STATUS64, info) != 0) {
                NativeException failure = new NativeException("ioctl(" + node + ", LOOP_SET_STATUS64)", Native.errno());
                // Without its offset and limit the device shows the whole file: never leave it so.
                libc.ioctl(loopFd, LOOP_CLR_FD, 0L);
                throw failure;
            }
        } finally {
            libc.close(loopFd);
        }
    }

    private static void fillInfo(Pointer p, int base, long offset, long sizeLimit, byte[] name) {
        p.putLong(base + INFO_OFFSET, offset);
        p.putLong(base + INFO_SIZELIMIT, sizeLimit);
        p.putInt(base + INFO_FLAGS, 0);
        p.put(base + INFO_FILE_NAME, name, 0, Math.min(name.length, LO_NAME_SIZE - 1));
    }

    /**
     * Changes how many bytes of its backing file a bound device shows, keeping its offset, flags and
     * label, while it may be mounted: {@code LOOP_SET_STATUS64} with the new {@code lo_sizelimit},
     * then {@code LOOP_SET_CAPACITY}, so that the block device's size (BLKGETSIZE64) follows on every
     * kernel, including those whose SET_STATUS does not resize the disk. The caller makes sure the
     * backing file holds nothing of anyone else in the new range.
     *
     * @return the device as the kernel describes it afterwards
     * @throws NativeException ENXIO when the device is no longer bound; EAGAIN when the kernel kept
     *                         refusing because of pages cached for the old size
     */
    public LoopDevice resize(LoopDevice loop, long sizeLimit) throws NativeException {
        if (sizeLimit <= 0) {
            throw new IllegalArgumentException("bad loop size limit " + sizeLimit);
        }
        LibC libc = Native.libc();
        Path node = loop.device();
        int fd = Native.check(libc.open(node.toString(), OpenFlags.O_RDWR | OpenFlags.O_CLOEXEC, 0), "open(" + node + ")");
        try {
            Pointer info = Memory.allocateDirect(Native.runtime(), INFO_SIZE, true);
            Native.check(libc.ioctl(fd, LOOP_GET_STATUS64, info), "ioctl(" + node + ", LOOP_GET_STATUS64)");
            if (info.getLong(INFO_OFFSET) != loop.offset()) {
                // Rebound by someone else under the same number since the caller looked.
                throw new NativeException("resize(" + node + ")", Errno.ENXIO.intValue(),
                        "the device now starts at " + info.getLong(INFO_OFFSET) + ", not at " + loop.offset());
            }
            info.putLong(INFO_SIZELIMIT, sizeLimit);
            // Kernels before 5.16 refuse a new size with EAGAIN while pages of the old one are
            // still cached; they were written back by the call itself, so a retry goes through.
            for (int attempt = 1; ; attempt++) {
                if (libc.ioctl(fd, LOOP_SET_STATUS64, info) == 0) {
                    break;
                }
                int errno = Native.errno();
                if (errno != Errno.EAGAIN.intValue() || attempt >= 10) {
                    throw new NativeException("ioctl(" + node + ", LOOP_SET_STATUS64)", errno);
                }
                sleep(20L * attempt);
            }
            Native.check(libc.ioctl(fd, LOOP_SET_CAPACITY, 0L), "ioctl(" + node + ", LOOP_SET_CAPACITY)");
        } finally {
            libc.close(fd);
        }
        LOG.debug("resized {} to {} bytes at {}", node, sizeLimit, loop.offset());
        return get(loop.number()).orElseThrow(() -> new NativeException("resize(" + node + ")", Errno.ENXIO.intValue(),
                "device vanished right after it was resized"));
    }

    /** The device node of loop N; created when this /dev does not get nodes from devtmpfs. */
    private Path ensureNode(int n) throws NativeException {
        Path node = dev.resolve("loop" + n);
        long deadline = System.nanoTime() + NODE_WAIT.toNanos();
        while (!Files.exists(node)) {
            if (System.nanoTime() > deadline) {
                long devT = makedev(LOOP_MAJOR, n);
                int rc = Native.libc().mknod(node.toString(), S_IFBLK | 0660, devT);
                if (rc != 0 && Native.errno() != Errno.EEXIST.intValue()) {
                    throw new NativeException("mknod(" + node + ")", Native.errno());
                }
                break;
            }
            sleep(10);
        }
        return node;
    }

    private static long makedev(long major, long minor) {
        return (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xffL) << 12) | ((major & ~0xfffL) << 32);
    }

    /**
     * Issues LOOP_CLR_FD on a device the caller opened (preferably exclusively, so nothing can
     * mount it meanwhile). The kernel detaches it when the last descriptor closes.
     */
    public void clearFd(BlockDevice opened) throws NativeException {
        int rc = Native.libc().ioctl(opened.fd(), LOOP_CLR_FD, 0L);
        if (rc != 0) {
            int errno = Native.errno();
            if (errno == Errno.ENXIO.intValue()) {
                return; // not bound: nothing to clear
            }
            throw new NativeException("ioctl(" + opened.path() + ", LOOP_CLR_FD)", errno);
        }
    }

    /**
     * Detaches a device unless it is mounted or held exclusively (then EBUSY). Waits until the
     * kernel has let go of it; returns false when another opener keeps it bound past the timeout
     * (it is then detached on that opener's last close).
     */
    public boolean detach(LoopDevice loop, Duration timeout) throws NativeException {
        try (BlockDevice opened = BlockDevice.open(loop.device(), true)) {
            clearFd(opened);
        } catch (NativeException e) {
            if (e.is(Errno.ENOENT) || e.is(Errno.ENXIO)) {
                return !isBound(loop.number());
            }
            throw e;
        }
        return awaitDetached(loop.number(), timeout);
    }

    /** Waits until loop N is no longer bound; false on timeout. */
    public boolean awaitDetached(int number, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (isBound(number)) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            sleep(5);
        }
        return true;
    }

    public boolean isBound(int number) {
        return Files.isDirectory(sysBlock.resolve("loop" + number).resolve("loop"));
    }

    /** Every bound loop device, by number. */
    public List<LoopDevice> list() throws NativeException {
        List<LoopDevice> result = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(sysBlock, "loop*")) {
            for (Path entry : entries) {
                String suffix = entry.getFileName().toString().substring(4);
                if (suffix.isEmpty() || !suffix.chars().allMatch(Character::isDigit)) {
                    continue;
                }
                get(Integer.parseInt(suffix)).ifPresent(result::add);
            }
        } catch (IOException e) {
            throw new NativeException("readdir(" + sysBlock + ")", Errno.EIO.intValue(), e.toString());
        }
        result.sort(Comparator.comparingInt(LoopDevice::number));
        return result;
    }

    /** Loop N if it is bound. */
    public Optional<LoopDevice> get(int number) throws NativeException {
        Path sys = sysBlock.resolve("loop" + number).resolve("loop");
        long offset;
        long sizeLimit;
        String backing;
        boolean autoclear;
        try {
            offset = Long.parseLong(readAttr(sys.resolve("offset")));
            sizeLimit = Long.parseLong(readAttr(sys.resolve("sizelimit")));
            backing = readAttr(sys.resolve("backing_file"));
            autoclear = "1".equals(readAttr(sys.resolve("autoclear")));
        } catch (NoSuchFileException e) {
            return Optional.empty(); // not bound, or detached while we looked
        } catch (IOException | NumberFormatException e) {
            // A device detached by someone else between the directory listing and the reads fails
            // with ENODEV or an empty attribute rather than ENOENT.
            if (!isBound(number)) {
                return Optional.empty();
            }
            throw new NativeException("read(" + sys + ")", Errno.EIO.intValue(), e.toString());
        }
        Path node = dev.resolve("loop" + number);
        String label = "";
        long backingDev = -1;
        long backingIno = -1;
        LibC libc = Native.libc();
        int fd = libc.open(node.toString(), OpenFlags.O_RDONLY | OpenFlags.O_CLOEXEC, 0);
        if (fd >= 0) {
            try {
                Pointer info = Memory.allocateDirect(Native.runtime(), INFO_SIZE, true);
                if (libc.ioctl(fd, LOOP_GET_STATUS64, info) == 0) {
                    backingDev = info.getLong(INFO_DEVICE);
                    backingIno = info.getLong(INFO_INODE);
                    byte[] raw = new byte[LO_NAME_SIZE];
                    info.get(INFO_FILE_NAME, raw, 0, LO_NAME_SIZE);
                    int len = 0;
                    while (len < raw.length && raw[len] != 0) {
                        len++;
                    }
                    label = new String(raw, 0, len, StandardCharsets.ISO_8859_1);
                } else if (Native.errno() == Errno.ENXIO.intValue()) {
                    return Optional.empty();
                }
            } finally {
                libc.close(fd);
            }
        }
        return Optional.of(new LoopDevice(number, node, backing, offset, sizeLimit, autoclear, label, backingDev, backingIno));
    }

    private static String readAttr(Path p) throws IOException {
        return Files.readString(p, StandardCharsets.UTF_8).strip();
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for a loop device", e);
        }
    }
}
