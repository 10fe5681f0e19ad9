package dev.pmemcsi.controller;

import dev.pmemcsi.controller.snapshot.BlockCopy;
import dev.pmemcsi.controller.snapshot.CopyEnds;
import dev.pmemcsi.controller.snapshot.RestoreJournal;
import dev.pmemcsi.controller.snapshot.RestoredFilesystem;
import dev.pmemcsi.controller.snapshot.SnapshotConfig;
import dev.pmemcsi.controller.snapshot.SnapshotStore;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.KeyedLocks;
import dev.pmemcsi.device.NoSpaceException;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.VolumeAccess;
import dev.pmemcsi.driver.FilesystemFreezer;
import dev.pmemcsi.driver.OperationInProgressException;
import dev.pmemcsi.driver.PreconditionFailedException;
import dev.pmemcsi.pmemnative.BlockDevice;
import dev.pmemcsi.pmemnative.CommandFailedException;
import dev.pmemcsi.pmemnative.CommandRunner;
import dev.pmemcsi.pmemnative.NativeException;
import dev.pmemcsi.pmemnative.mount.FilesystemProbe;
import dev.pmemcsi.pmemnative.mount.Filesystems;
import dev.pmemcsi.pmemnative.mount.Mounter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import jnr.constants.platform.Errno;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the snapshot use cases share: the store, the journal of copied volumes, the copy engine,
 * the freezer and the preparation of copied filesystems. It also copies a volume's device while
 * the volume is held still, for a snapshot and for a clone alike.
 */
final class Snapshots {

    private static final Logger LOG = LoggerFactory.getLogger(Snapshots.class);

    final SnapshotStore store;
    final RestoreJournal journal;
    final BlockCopy copier = new BlockCopy();
    final RestoredFilesystem filesystems;
    final FilesystemProbe probe;
    final FilesystemFreezer freezer;
    final Duration freezeLimit;
    final OperationListener listener;
    /** One operation per snapshot at a time: a create, a delete, or a restore reading it. */
    private final KeyedLocks snapshotLocks = new KeyedLocks();

    Snapshots(SnapshotConfig config, OperationListener listener) {
        CommandRunner runner = new CommandRunner();
        this.store = new SnapshotStore(config.snapshotDir());
        this.journal = new RestoreJournal(config.stateDir().resolve("restores"));
        this.filesystems = new RestoredFilesystem(runner, new Mounter(), config.stateDir().resolve("restore-mounts"));
        this.probe = FilesystemProbe.inProcess(runner);
        this.freezer = config.freezer();
        this.freezeLimit = config.freezeLimit();
        this.listener = listener;
    }

    KeyedLocks.Held lockSnapshot(String key, String id) throws OperationInProgressException {
        return snapshotLocks.tryAcquire(key).orElseThrow(() -> new OperationInProgressException(
                "an operation for snapshot " + id + " is already in progress"));
    }

    /**
     * How many bytes of a volume a copy takes: its filesystem (the capacity in whole blocks) when
     * the volume holds one, its whole device when it serves raw block access, so that nothing a
     * pod could have written is left out, and nothing past a filesystem (bytes of earlier users
     * of the space) is copied.
     */
    static long copyLength(PmemVolume v, FilesystemFreezer.Hold hold, long deviceBytes) {
        boolean filesystem = switch (hold) {
            case FROZEN -> true;
            case RAW_BLOCK_IN_USE -> false;
            case NOT_IN_USE -> v.access().isRecorded() && !v.access().block();
        };
        long fsBytes = v.capacityBytes() / Filesystems.BLOCK_SIZE * Filesystems.BLOCK_SIZE;
        return filesystem ? Math.min(fsBytes, deviceBytes) : deviceBytes;
    }

    /** What {@link #copyVolume} copied. */
    record Copied(long length, BlockCopy.Result result, FilesystemFreezer.Hold hold) {}

    /**
     * Copies the device of {@code source}, held still: frozen when its filesystem is staged,
     * opened exclusively when it is unused (so nothing mounts it meanwhile), as it is when it is a
     * raw block volume in use. The caller holds the source's volume lock.
     *
     * @param sink builds the sink, given the number of bytes the copy takes
     */
    Copied copyVolume(PmemVolume source, OperationListener.Kind kind, String subject, SinkFactory sink)
            throws Exception {
        Path device = source.devicePath();
        if (!Files.exists(device)) {
            throw new PreconditionFailedException("the device " + device + " of volume " + source.id()
                    + " has disappeared");
        }
        long deviceBytes = CopyEnds.sizeOf(device);
        try (FilesystemFreezer.Held held = freezer.hold(source.id(), freezeLimit)) {
            long length = copyLength(source, held.hold(), deviceBytes);
            try (BlockDevice exclusive = held.hold() == FilesystemFreezer.Hold.NOT_IN_USE ? openExclusive(source) : null;
                 BlockCopy.Source src = CopyEnds.readDevice(device, length);
                 BlockCopy.Sink dst = sink.open(length)) {
                BlockCopy.Result r = listener.timed(kind, subject, () -> copier.copy(src, dst, () -> {
                    // The source is released as soon as its last byte is read, not after the writes.
                    held.requireStill();
                    held.close();
                }));
                LOG.info("copied {} bytes of volume {} ({} held {}), {} of them data, for {}", length, source.id(),
                        device, describe(held), r.dataBytes(), subject);
                return new Copied(length, r, held.hold());
            }
        } catch (IOException e) {
            throw noSpace(e);
        }
    }

    private static String describe(FilesystemFreezer.Held held) {
        return switch (held.hold()) {
            case FROZEN -> "frozen at " + held.mountPoint().map(Path::toString).orElse("?");
            case NOT_IN_USE -> "unused, opened exclusively";
            case RAW_BLOCK_IN_USE -> "as it is, a raw block volume in use";
        };
    }

    /** Where the bytes go. */
    @FunctionalInterface
    interface SinkFactory {
        BlockCopy.Sink open(long length) throws IOException;
    }

    private static BlockDevice openExclusive(PmemVolume v) throws PreconditionFailedException, NativeException {
        try {
            return BlockDevice.open(v.devicePath(), true);
        } catch (NativeException e) {
            if (e.is(Errno.EBUSY)) {
                throw new PreconditionFailedException("the device " + v.devicePath() + " of volume " + v.id()
                        + " is mounted or open, but the volume is not staged on this node by the driver; it cannot be"
                        + " copied consistently");
            }
            throw e;
        }
    }

    /** ENOSPC while writing an image: the snapshot directory is full, which the caller may retry later. */
    static Exception noSpace(IOException e) {
        String m = String.valueOf(e.getMessage());
        if (m.contains("No space left on device")) {
            return new NoSpaceException("no space left for the copy: " + m);
        }
        return e;
    }

    /** The filesystem (or other content) blkid finds in an image or on a device; empty when it holds nothing. */
    String contentType(Path imageOrDevice) {
        try {
            FilesystemProbe.Content c = probe.probe(imageOrDevice);
            return c.type().orElse(c.partitionTable().map(t -> "partition table " + t).orElse(""));
        } catch (CommandFailedException e) {
            LOG.warn("cannot tell what {} holds: {}", imageOrDevice, e.getMessage());
            return "unknown";
        }
    }

    /** Whether a copied filesystem of this type is prepared for use ({@link RestoredFilesystem}). */
    static boolean prepares(String fsType) {
        return fsType.equals(VolumeAccess.EXT4) || fsType.equals(VolumeAccess.XFS);
    }

    /** Deletes a volume whose copy did not finish, erasing it when it was created so. */
    void discardVolume(DeviceManager devices, String volumeId) throws DeviceException {
        Optional<PmemVolume> v = devices.getVolume(volumeId);
        devices.deleteVolume(volumeId, v.map(PmemVolume::eraseAfter).orElse(true));
    }
}
