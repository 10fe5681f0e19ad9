package dev.pmemcsi.node;

import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.driver.PreconditionFailedException;
import dev.pmemcsi.driver.VolumeCapabilities;
import dev.pmemcsi.pmemnative.CommandFailedException;
import dev.pmemcsi.pmemnative.NativeException;
import dev.pmemcsi.pmemnative.mount.DeviceNumber;
import dev.pmemcsi.pmemnative.mount.FileAttributes;
import dev.pmemcsi.pmemnative.mount.FilesystemProbe;
import dev.pmemcsi.pmemnative.mount.Filesystems;
import dev.pmemcsi.pmemnative.mount.MountInfo;
import dev.pmemcsi.pmemnative.mount.MountOptions;
import dev.pmemcsi.pmemnative.mount.MountTable;
import dev.pmemcsi.pmemnative.mount.Mounter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import jnr.constants.platform.Errno;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Puts a volume's filesystem on a directory: detect what the device holds, make a filesystem only
 * when it holds nothing, mount with DAX when the device can do it, and check that DAX is active.
 */
final class FilesystemMounter {

    private static final Logger LOG = LoggerFactory.getLogger(FilesystemMounter.class);
    private static final String DAX_PROBE_PREFIX = ".pmem-csi-dax-check-";

    /** What happened. */
    record Outcome(boolean formatted, boolean dax) {}

    private final Mounter mounter;
    private final Filesystems filesystems;
    private final FilesystemProbe probe;
    private final OperationListener listener;

    FilesystemMounter(Mounter mounter, Filesystems filesystems, FilesystemProbe probe, OperationListener listener) {
        this.mounter = mounter;
        this.filesystems = filesystems;
        this.probe = probe;
        this.listener = listener;
    }

    /**
     * Mounts the filesystem of {@code volume} at {@code target}, an existing directory.
     *
     * @param mayFormat whether an empty device may be formatted (false when restoring a mount)
     */
    Outcome mount(PmemVolume volume, String fsType, List<String> mountFlags, boolean readOnly, Path target,
                  boolean mayFormat)
            throws NativeException, CommandFailedException, IOException, PreconditionFailedException {
        boolean formatted = prepare(volume, fsType, mayFormat);
        return new Outcome(formatted, mountPrepared(volume, fsType, mountFlags, readOnly, target));
    }

    /**
     * Makes sure the device holds a filesystem of {@code fsType}, making one only on an empty
     * device. Returns whether it made one. Touches no mount, so it may run before the mount is
     * recorded: a crash leaves at most a formatted, unmounted device.
     */
    boolean prepare(PmemVolume volume, String fsType, boolean mayFormat)
            throws CommandFailedException, PreconditionFailedException {
        Path device = volume.devicePath();
        if (!volume.access().servesFilesystem(fsType)) {
            throw new PreconditionFailedException("volume " + volume.id() + " was created for "
                    + volume.access().describe() + ", not for an " + fsType + " filesystem; the driver never"
                    + " reformats a device");
        }
        FilesystemProbe.Content content;
        try {
            content = probe.probe(device);
        } catch (CommandFailedException e) {
            throw new PreconditionFailedException("cannot tell whether " + device
                    + " holds data, so it is neither formatted nor mounted: " + e.getMessage());
        }
        boolean formatted = false;
        if (content.isEmpty()) {
            if (!mayFormat) {
                throw new PreconditionFailedException(device + " of volume " + volume.id()
                        + " holds no filesystem any more");
            }
            long size = filesystemBytes(volume);
            if (fsType.equals(Filesystems.XFS) && size < VolumeCapabilities.MIN_XFS_BYTES) {
                throw new PreconditionFailedException("volume " + volume.id() + " has a capacity of "
                        + volume.capacityBytes() + " bytes; an xfs filesystem needs at least "
                        + VolumeCapabilities.MIN_XFS_BYTES + " (use ext4, or a larger volume)");
            }
            LOG.info("{} holds no filesystem; making {} of {} bytes: {}", device, fsType, size,
                    Filesystems.mkfsArgv(fsType, device, size < volume.usableBytes() ? size : 0));
            long t0 = System.nanoTime();
            listener.timed(OperationListener.Kind.MKFS, fsType + " on " + device + " of volume " + volume.id(), () -> {
                filesystems.mkfs(fsType, device, size < volume.usableBytes() ? size : 0);
                return null;
            });
            LOG.info("made {} on {} in {} ms", fsType, device, (System.nanoTime() - t0) / 1_000_000);
            formatted = true;
        } else if (!content.type().orElse("").equals(fsType)) {
            throw new PreconditionFailedException("volume " + volume.id() + " (" + device + ") holds "
                    + content.describe() + ", not " + fsType + "; the driver never reformats a device");
        }
        return formatted;
    }

    /**
     * The size of a new filesystem on the volume: its capacity in whole blocks. The device may be
     * larger (allocation units); the filesystem, and so what a pod sees, is what was promised.
     */
    static long filesystemBytes(PmemVolume volume) {
        return volume.capacityBytes() / Filesystems.BLOCK_SIZE * Filesystems.BLOCK_SIZE;
    }

    /** Mounts a device that {@link #prepare} checked; returns whether DAX is active. */
    boolean mountPrepared(PmemVolume volume, String fsType, List<String> mountFlags, boolean readOnly, Path target)
            throws NativeException, IOException, PreconditionFailedException {
        Path device = volume.devicePath();
        DeviceNumber devNo = DeviceNumber.ofBlockDevice(device);

        DaxChoice dax = DaxChoice.decide(volume, mountFlags);
        List<String> options = new ArrayList<>(mountFlags);
        if (dax.enable()) {
            options.add("dax");
        }
        if (readOnly && !options.contains("ro")) {
            options.remove("rw");
            options.add("ro");
        }
        MountOptions mo = MountOptions.of(options);
        if (dax.verify()) {
            LOG.info("mounting {} ({}) at {} with DAX: {}", device, fsType, target, dax.reason());
        } else {
            LOG.info("mounting {} ({}) at {} without DAX: {}", device, fsType, target, dax.reason());
        }
        try {
            mountObserved(volume, target, fsType, mo);
        } catch (NativeException e) {
            if (dax.verify() && e.is(Errno.EINVAL)) {
                throw DaxChoice.notActive(volume, "mount with dax failed: " + e.getMessage());
            }
            if (e.is(Errno.EINVAL)) {
                // The flags passed validation, so this kernel lacks a feature they need (quotas,
                // ACLs) or the filesystem is damaged: a property of the node, not a driver fault.
                throw new PreconditionFailedException("the kernel refused to mount volume " + volume.id()
                        + " (" + fsType + ") with options " + mo.data() + "; see dmesg: " + e.getMessage());
            }
            throw new IOException("mounting volume " + volume.id() + " failed: " + e.getMessage(), e);
        }
        try {
            boolean active = verify(volume, devNo, target, dax, readOnly || mo.readOnly());
            if (fsType.equals(Filesystems.XFS) && !mo.readOnly()) {
                // Repeated on every read-write mount: it is idempotent, and a crash right after
                // mkfs must not leave a filesystem without the hint.
                Filesystems.setXfsExtentSize(target);
            }
            return active;
        } catch (RuntimeException | Error | NativeException | IOException | PreconditionFailedException e) {
            try {
                mounter.unmount(target);
            } catch (NativeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    private void mountObserved(PmemVolume volume, Path target, String fsType, MountOptions mo) throws NativeException {
        listener.timed(OperationListener.Kind.MOUNT,
                volume.devicePath() + " (" + fsType + ") of volume " + volume.id() + " at " + target, () -> {
                    mounter.mount(volume.devicePath(), target, fsType, mo);
                    return null;
                });
    }

    private boolean verify(PmemVolume volume, DeviceNumber devNo, Path target, DaxChoice dax, boolean readOnly)
            throws IOException, NativeException, PreconditionFailedException {
        Optional<MountInfo> m = MountTable.read().top(target);
        if (m.isEmpty() || !devNo.matches(m.get())) {
            throw new IllegalStateException("after mounting " + volume.devicePath() + " at " + target
                    + ", /proc/self/mountinfo shows " + m.map(MountInfo::toString).orElse("nothing") + " there");
        }
        if (!dax.verify()) {
            return false;
        }
        if (!m.get().daxAlways()) {
            throw DaxChoice.notActive(volume, "the mount options are " + String.join(",", m.get().superOptions()));
        }
        if (!readOnly) {
            Optional<Boolean> fileDax = probeFile(target);
            if (fileDax.isPresent() && !fileDax.get()) {
                throw DaxChoice.notActive(volume, "the mount shows dax, but statx(2) reports no STATX_ATTR_DAX"
                        + " on a new file");
            }
            LOG.debug("DAX active on {}: mount option present, statx {}", target,
                    fileDax.map(b -> "confirms").orElse("does not report DAX on this kernel"));
        }
        return true;
    }

    /** STATX_ATTR_DAX of a new, empty file in {@code dir}; the file is removed again. */
    private static Optional<Boolean> probeFile(Path dir) throws IOException, NativeException {
        Path probe = dir.resolve(DAX_PROBE_PREFIX + UUID.randomUUID());
        Files.createFile(probe);
        try {
            return FileAttributes.of(probe).dax();
        } finally {
            Files.deleteIfExists(probe);
        }
    }

    static IOException unmountFailed(Path path, NativeException e) {
        return new IOException("unmounting " + path + " failed: " + e.getMessage(), e);
    }
}
