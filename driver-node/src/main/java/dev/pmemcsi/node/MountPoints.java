package dev.pmemcsi.node;

import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.driver.InvalidRequestException;
import dev.pmemcsi.driver.PreconditionFailedException;
import dev.pmemcsi.pmemnative.NativeException;
import dev.pmemcsi.pmemnative.mount.DeviceNumber;
import dev.pmemcsi.pmemnative.mount.MountInfo;
import dev.pmemcsi.pmemnative.mount.MountTable;
import dev.pmemcsi.pmemnative.mount.Mounter;
import java.io.IOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;
import jnr.constants.platform.Errno;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Staging and target paths as the node service finds and leaves them: what the records and the
 * mount table say is there, whether it is the driver's to change, and the directories, files and
 * mounts the driver makes and removes there.
 */
final class MountPoints {

    private static final Logger LOG = LoggerFactory.getLogger(MountPoints.class);
    /** Mounts stacked at one path that unmounting will peel off before giving up. */
    private static final int MAX_STACKED_MOUNTS = 16;

    private final NodeState state;
    private final NodePaths paths;
    private final Mounter mounter;
    private final FilesystemMounter filesystems;
    private final DeviceManager devices;

    MountPoints(NodeState state, NodePaths paths, Mounter mounter, FilesystemMounter filesystems,
                DeviceManager devices) {
        this.state = state;
        this.paths = paths;
        this.mounter = mounter;
        this.filesystems = filesystems;
        this.devices = devices;
    }

    /** The path with its parent's symlinks resolved: what the driver mounts and records. */
    Path resolve(String field, Path p) throws InvalidRequestException, IOException, PreconditionFailedException {
        try {
            return paths.resolve(field, p);
        } catch (NoSuchFileException e) {
            throw new PreconditionFailedException("the parent directory of " + field + " " + p + " does not exist");
        }
    }

    /**
     * Refuses a path that the records give to something else: another volume's staging or
     * publication, or a staging where a publication is asked for and the reverse.
     *
     * @param mine the records at the path that the request may find there (its own repeat)
     */
    void requireUnused(String field, Path path, Path real, Predicate<Attachment> mine)
            throws PreconditionFailedException {
        for (Attachment a : state.at(real)) {
            if (!mine.test(a)) {
                throw new PreconditionFailedException(field + " " + path + " is already "
                        + (a.kind() == Attachment.Kind.STAGED ? "the staging path" : "a publication target")
                        + " of volume " + a.volumeId());
            }
        }
    }

    /**
     * For an unstage or unpublish whose volume has no record at the path: whether the path is
     * recorded as something else, which such a call must never unmount or remove. True (answered
     * OK, nothing done) when it belongs to another volume; FAILED_PRECONDITION when it is this
     * volume's staging path asked to be unpublished, or its publication asked to be unstaged.
     */
    boolean recordedOtherwise(String field, String id, Path path, Path real) throws PreconditionFailedException {
        List<Attachment> there = state.at(real);
        if (there.isEmpty()) {
            return false;
        }
        Attachment a = there.get(0);
        String what = a.kind() == Attachment.Kind.STAGED ? "the staging path" : "a publication target";
        if (a.volumeId().equals(id)) {
            throw new PreconditionFailedException(field + " " + path + " is " + what + " of volume " + id
                    + ", not " + (a.kind() == Attachment.Kind.STAGED ? "a publication; NodeUnstageVolume"
                    : "a staging; NodeUnpublishVolume") + " removes it");
        }
        LOG.info("{} {} is {} of volume {}, not of {}; nothing to do", field, path, what, a.volumeId(), id);
        return true;
    }

    /** Mounts a recorded staging (or ephemeral volume) again, as it was, without ever formatting. */
    void remount(Attachment a, PmemVolume vol) throws Exception {
        String field = a.kind() == Attachment.Kind.STAGED ? "staging_target_path" : "target_path";
        createDirectory(field, a.realPath());
        filesystems.mount(vol, a.fsType(), a.mountFlags(),
                a.readOnly() || a.accessMode().equals("SINGLE_NODE_READER_ONLY"), a.realPath(), false);
    }

    /**
     * Whether {@code real} shows the volume whose block device is {@code device}: its filesystem
     * (mount access, directly or through a bind) or its device node bound onto a file (block).
     */
    static boolean showsVolume(Path device, Attachment.Access access, Path real, MountTable mounts)
            throws IOException {
        Optional<MountInfo> top = mounts.top(real);
        if (top.isEmpty()) {
            return false;
        }
        DeviceNumber devNo;
        try {
            devNo = DeviceNumber.ofBlockDevice(device);
        } catch (NativeException e) {
            // The device node is gone: the mount table's record of it is the only witness left.
            return access == Attachment.Access.BLOCK ? top.get().root().equals("/" + device.getFileName())
                    : top.get().source().equals(device.toString());
        }
        if (access == Attachment.Access.MOUNT) {
            return devNo.matches(top.get());
        }
        try {
            return devNo.equals(DeviceNumber.ofBlockDevice(real));
        } catch (NativeException e) {
            return false;
        }
    }

    /**
     * Whether the top mount at {@code real} is the filesystem of volume {@code id} (or of the
     * ephemeral volume kubelet calls {@code id}): a mount of the driver's own that lost its record,
     * e.g. with the state directory. Anything else mounted there is left alone.
     */
    boolean holdsVolume(String id, Path real) throws IOException, DeviceException {
        Optional<MountInfo> top = MountTable.read().top(real);
        if (top.isEmpty()) {
            return false;
        }
        for (String deviceId : List.of(id, VolumeIds.ephemeral(id))) {
            if (!VolumeIds.isValid(deviceId)) {
                continue;
            }
            Optional<PmemVolume> vol = devices.getVolume(deviceId);
            if (vol.isPresent()) {
                try {
                    if (DeviceNumber.ofBlockDevice(vol.get().devicePath()).matches(top.get())) {
                        return true;
                    }
                } catch (NativeException e) {
                    LOG.debug("device {} of volume {} cannot be examined: {}", vol.get().devicePath(), deviceId,
                            e.getMessage());
                }
            }
        }
        return false;
    }

    /** Unmounts everything stacked at {@code path}; returns how many mounts it removed. */
    int unmountAll(Path path) throws IOException {
        int n = 0;
        while (MountTable.read().isMountPoint(path)) {
            if (n == MAX_STACKED_MOUNTS) {
                throw new IllegalStateException(path + " still has mounts after " + n + " unmounts");
            }
            try {
                mounter.unmount(path);
            } catch (NativeException e) {
                if (e.is(Errno.EINVAL)) {
                    // The kernel says nothing is mounted there (mountinfo saw it a moment ago: a race).
                    break;
                }
                throw FilesystemMounter.unmountFailed(path, e);
            }
            n++;
        }
        return n;
    }

    /** Removes a target after unmounting: an empty directory, or the empty file a block volume was bound to. */
    static void removeTarget(Path path) throws IOException, PreconditionFailedException {
        if (!NodePaths.exists(path)) {
            return;
        }
        if (Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
            try {
                Files.delete(path);
            } catch (DirectoryNotEmptyException e) {
                throw new PreconditionFailedException("target " + path + " is not empty after"
                        + " unmounting; it is left in place");
            }
        } else if (Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS) && Files.size(path) == 0) {
            Files.delete(path);
        } else {
            throw new PreconditionFailedException("target " + path + " is neither an empty directory"
                    + " nor an empty file after unmounting; it is left in place");
        }
    }

    /** Refuses an existing path of the wrong type: a mount needs a directory, a block volume a file. */
    static void requireType(String field, Path p, boolean directory) throws PreconditionFailedException {
        if (!NodePaths.exists(p)) {
            return;
        }
        if (directory && !Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
            throw new PreconditionFailedException(field + " " + p + " exists and is not a directory");
        }
        if (!directory && !Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
            throw new PreconditionFailedException(field + " " + p + " exists and is not a file;"
                    + " a block volume is bound onto a file");
        }
    }

    /** Creates the directory a filesystem is mounted on; returns whether it did. */
    static boolean createDirectory(String field, Path p) throws IOException, PreconditionFailedException {
        if (NodePaths.exists(p)) {
            requireType(field, p, true);
            return false;
        }
        try {
            Files.createDirectory(p);
        } catch (NoSuchFileException e) {
            throw new PreconditionFailedException("the parent directory of " + field + " " + p + " does not exist");
        }
        return true;
    }

    /** Creates the file a block volume's device is bound onto; returns whether it did. */
    static boolean createFile(Path p) throws IOException, PreconditionFailedException {
        if (NodePaths.exists(p)) {
            requireType("target_path", p, false);
            if (Files.size(p) != 0) {
                // Someone's data: binding over it would hide it, and unpublish could not remove it.
                throw new PreconditionFailedException("target_path " + p + " is a file that is not"
                        + " empty; a block volume is bound only onto a new or empty file");
            }
            return false;
        }
        Files.createFile(p);
        return true;
    }
}
