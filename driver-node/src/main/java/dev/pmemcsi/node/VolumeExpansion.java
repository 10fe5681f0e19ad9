package dev.pmemcsi.node;

import dev.pmemcsi.csi.v1.NodeExpandVolumeRequest;
import dev.pmemcsi.csi.v1.NodeExpandVolumeResponse;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.OutOfRangeException;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.VolumeNotFoundException;
import dev.pmemcsi.driver.InvalidRequestException;
import dev.pmemcsi.driver.NotOfferedException;
import dev.pmemcsi.driver.PreconditionFailedException;
import dev.pmemcsi.driver.VolumeCapabilities;
import dev.pmemcsi.driver.VolumeLocks;
import dev.pmemcsi.pmemnative.BlockDevice;
import dev.pmemcsi.pmemnative.CommandFailedException;
import dev.pmemcsi.pmemnative.mount.Filesystems;
import dev.pmemcsi.pmemnative.mount.FsStats;
import dev.pmemcsi.pmemnative.mount.MountTable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * NodeExpandVolume: grows the filesystem of a staged or published volume to the capacity its
 * device now has, while it stays mounted (ext4 with resize2fs, xfs with xfs_growfs). A raw block
 * volume has nothing to grow on the node: its device grew with ControllerExpandVolume. The call
 * holds the volume's lock.
 *
 * <p>The filesystem grows to the volume's capacity, as mkfs made it, never to the whole device,
 * which may be larger by its allocation unit. Growing an already grown filesystem changes nothing.
 */
final class VolumeExpansion {

    private static final Logger LOG = LoggerFactory.getLogger(VolumeExpansion.class);

    private final NodeState state;
    private final NodePaths paths;
    private final OperationLocks locks;
    private final DeviceManager devices;
    private final Filesystems filesystems;

    VolumeExpansion(NodeState state, NodePaths paths, OperationLocks locks, DeviceManager devices,
                    Filesystems filesystems) {
        this.state = state;
        this.paths = paths;
        this.locks = locks;
        this.devices = devices;
        this.filesystems = filesystems;
    }

    /** Whether the backend grows volumes: without it, neither the capability nor the call is offered. */
    boolean offered() {
        return devices.expansion() != DeviceManager.Expansion.NONE;
    }

    @SuppressWarnings("try") // the lock only needs releasing
    NodeExpandVolumeResponse expand(NodeExpandVolumeRequest req) throws Exception {
        if (!offered()) {
            throw new NotOfferedException("NodeExpandVolume: " + devices.backendName()
                    + " volumes cannot grow (EXPAND_VOLUME is not offered)");
        }
        String id = RequestFields.nonEmpty("volume_id", req.getVolumeId());
        Path path = paths.volumePath(id, RequestFields.nonEmpty("volume_path", req.getVolumePath()));
        if (req.hasVolumeCapability()) {
            VolumeCapabilities.validate(req.getVolumeCapability());
        }
        long required = req.getCapacityRange().getRequiredBytes();
        long limit = req.getCapacityRange().getLimitBytes();
        if (required < 0 || limit < 0 || (limit != 0 && limit < required)) {
            throw new InvalidRequestException("capacity_range is not a range: required_bytes " + required
                    + ", limit_bytes " + limit);
        }
        try (VolumeLocks.Held held = locks.volume(id)) {
            Attachment a = state.doneAt(id, path)
                    .orElseThrow(() -> new VolumeNotFoundException("volume " + id + " is neither staged nor"
                            + " published at " + path));
            PmemVolume volume = devices.getVolume(a.deviceId()).orElseThrow(() -> new VolumeNotFoundException(
                    "volume " + id + " no longer exists on this node"));
            if (required > volume.capacityBytes()) {
                throw new OutOfRangeException("volume " + id + " has a capacity of " + volume.capacityBytes()
                        + " bytes, below the required " + required + "; ControllerExpandVolume grows it first");
            }
            NodeVolumes.requireDevice(volume);
            long deviceBytes = BlockDevice.sizeOf(volume.devicePath());
            if (a.access() == Attachment.Access.BLOCK) {
                LOG.debug("raw block volume: its device of {} bytes is the volume, nothing to grow", deviceBytes);
                return NodeExpandVolumeResponse.newBuilder().setCapacityBytes(deviceBytes).build();
            }
            return NodeExpandVolumeResponse.newBuilder().setCapacityBytes(growFilesystem(id, a, volume, deviceBytes))
                    .build();
        }
    }

    /** Grows the filesystem to the volume's capacity; returns that size. */
    private long growFilesystem(String id, Attachment a, PmemVolume volume, long deviceBytes) throws Exception {
        long target = FilesystemMounter.filesystemBytes(volume);
        if (deviceBytes < target) {
            throw new PreconditionFailedException("the device " + volume.devicePath() + " of volume " + id
                    + " has " + deviceBytes + " bytes, less than the volume's capacity of " + target
                    + "; the filesystem cannot grow beyond its device");
        }
        Path mountPoint = writableMount(a);
        if (!MountPoints.showsVolume(volume.devicePath(), Attachment.Access.MOUNT, mountPoint, MountTable.read())) {
            throw new VolumeNotFoundException("volume " + id + " is not mounted at " + mountPoint);
        }
        FsStats before = FsStats.of(mountPoint);
        if (before.totalBytes() >= target) {
            // statfs counts less than the filesystem's size (its metadata is left out), so this
            // filesystem is at least as large as the target: a grow command could only shrink it.
            LOG.debug("{} filesystem at {} already holds {} bytes, at least the capacity {}", a.fsType(), mountPoint,
                    before.totalBytes(), target);
            return target;
        }
        // statfs cannot tell a filesystem that already has the target size (its metadata is left
        // out of the count) from a smaller one, so the tool decides; it does nothing when grown.
        LOG.debug("growing the {} filesystem of volume {} at {} ({} bytes counted) to {} bytes: {}", a.fsType(), id,
                mountPoint, before.totalBytes(), target,
                Filesystems.growArgv(a.fsType(), volume.devicePath(), mountPoint, target));
        try {
            filesystems.grow(a.fsType(), volume.devicePath(), mountPoint, target);
        } catch (CommandFailedException e) {
            if (a.fsType().equals(Filesystems.EXT4) && !hasCapSysResource()) {
                throw new IOException("growing the ext4 filesystem of volume " + id + " needs CAP_SYS_RESOURCE, which"
                        + " the driver's process lacks (run its container privileged): " + e.getMessage(), e);
            }
            throw e;
        }
        FsStats after = FsStats.of(mountPoint);
        if (after.totalBytes() < before.totalBytes() || after.totalBytes() > target) {
            throw new IOException("after growing, the " + a.fsType() + " filesystem at " + mountPoint + " holds "
                    + after.totalBytes() + " bytes; it held " + before.totalBytes() + " and should hold up to "
                    + target);
        }
        if (after.totalBytes() > before.totalBytes()) {
            LOG.info("grew the {} filesystem of volume {} at {} to {} bytes ({} counted by statfs, {} before)",
                    a.fsType(), id, mountPoint, target, after.totalBytes(), before.totalBytes());
        } else {
            LOG.debug("the {} filesystem at {} already had {} bytes", a.fsType(), mountPoint, target);
        }
        return target;
    }

    /**
     * Whether this process may resize an ext4 filesystem: the kernel asks for CAP_SYS_RESOURCE
     * (bit 24 of the effective set) and resize2fs only reports "Permission denied".
     */
    static boolean hasCapSysResource() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("CapEff:")) {
                    return (Long.parseUnsignedLong(line.substring(7).strip(), 16) & (1L << 24)) != 0;
                }
            }
        } catch (IOException | NumberFormatException e) {
            LOG.debug("cannot read the process's capabilities: {}", e.getMessage());
        }
        return true;
    }

    /**
     * Where to grow the filesystem: a publication may be a read-only bind mount, on which xfs
     * refuses to grow, so the staging mount of a persistent volume is preferred; it is the same
     * filesystem.
     */
    private Path writableMount(Attachment a) {
        if (a.kind() == Attachment.Kind.PUBLISHED && !a.ephemeral()) {
            Optional<Attachment> staged = state.staged(a.volumeId())
                    .filter(s -> s.phase() == Attachment.Phase.DONE && s.access() == Attachment.Access.MOUNT);
            if (staged.isPresent()) {
                return staged.get().realPath();
            }
        }
        return a.realPath();
    }
}
