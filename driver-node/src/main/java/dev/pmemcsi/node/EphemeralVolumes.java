package dev.pmemcsi.node;

import dev.pmemcsi.csi.v1.NodePublishVolumeRequest;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.FaultPoints;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.driver.InvalidRequestException;
import dev.pmemcsi.driver.PreconditionFailedException;
import dev.pmemcsi.driver.VolumeCapabilities;
import dev.pmemcsi.driver.VolumeLocks;
import dev.pmemcsi.driver.VolumeParameters;
import dev.pmemcsi.pmemnative.mount.MountInfo;
import dev.pmemcsi.pmemnative.mount.MountTable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * CSI ephemeral inline volumes: NodePublishVolume creates the volume, formats it and mounts it at
 * the pod's target; NodeUnpublishVolume (through {@link Publishing}) deletes it again. The volume
 * lives and dies with its pod, so it is never staged and never listed by the controller.
 */
final class EphemeralVolumes {

    private static final Logger LOG = LoggerFactory.getLogger(EphemeralVolumes.class);
    private static final String FIELD = "target_path";

    // Test-only crash points (see FaultPoints).
    /** The PENDING record is durable; the volume does not exist yet. */
    static final String FAULT_EPHEMERAL_RECORDED = "node.ephemeral.recorded";
    /** The volume exists and is recorded; nothing is formatted or mounted yet. */
    static final String FAULT_EPHEMERAL_CREATED = "node.ephemeral.created";
    /** The filesystem is mounted at the target; the record still says PENDING. */
    static final String FAULT_EPHEMERAL_MOUNTED = "node.ephemeral.mounted";
    /** Unpublish: the volume is deleted; its REMOVING record is still there. */
    static final String FAULT_EPHEMERAL_DELETED = "node.ephemeral.deleted";

    private final NodeState state;
    private final DeviceManager devices;
    private final OperationLocks locks;
    private final MountPoints mountPoints;
    private final FilesystemMounter filesystems;

    EphemeralVolumes(NodeState state, DeviceManager devices, OperationLocks locks, MountPoints mountPoints,
                     FilesystemMounter filesystems) {
        this.state = state;
        this.devices = devices;
        this.locks = locks;
        this.mountPoints = mountPoints;
        this.filesystems = filesystems;
    }

    /** Publishes the inline volume kubelet calls {@code id}; the request's common fields are checked. */
    void publish(NodePublishVolumeRequest req, String id, Path target, VolumeCapability cap) throws Exception {
        if (Attachment.Access.of(cap) != Attachment.Access.MOUNT) {
            throw new InvalidRequestException("CSI ephemeral inline volumes must have mount access, not block");
        }
        VolumeParameters params = VolumeParameters.parse(req.getVolumeContextMap(), VolumeParameters.Origin.EPHEMERAL_INLINE);
        // Never the ID of a persistent volume, even when kubelet's ID equals one's name or ID.
        String deviceId = VolumeIds.ephemeral(id);
        Path real = mountPoints.resolve(FIELD, target);
        try (VolumeLocks.Held held = locks.volume(id); VolumeLocks.Held atPath = locks.path(FIELD, real)) {
            mountPoints.requireUnused(FIELD, target, real, a -> a.kind() == Attachment.Kind.PUBLISHED);
            // Before the volume is created: a target that cannot be mounted on is refused first.
            MountPoints.requireType(FIELD, real, true);
            Attachment wanted = Attachment.ephemeral(id, target, real, Attachment.Capability.of(cap),
                    req.getReadonly(), deviceId, params.eraseAfter());
            Optional<Attachment> existing = state.publishedAt(target);
            Optional<Exception> conflict = Conflicts.publish(existing, state.publishedOf(deviceId), wanted);
            if (conflict.isPresent()) {
                throw conflict.get();
            }
            boolean fresh = existing.isEmpty() || existing.get().phase() != Attachment.Phase.DONE;
            Optional<MountInfo> top = MountTable.read().top(real);
            if (top.isPresent()) {
                if (!fresh) {
                    LOG.debug("ephemeral volume {} is already published at {}", id, target);
                    return;
                }
                throw new PreconditionFailedException("target path " + target + " already has "
                        + top.get().source() + " mounted, which the driver has no record of");
            }
            // Recorded before the device exists, so that a crash in between cannot leak it.
            state.put(fresh ? wanted : existing.get());
            FaultPoints.reached(FAULT_EPHEMERAL_RECORDED);
            boolean readOnly = req.getReadonly() || VolumeCapabilities.isReadOnlyMode(cap);
            createAndMount(wanted, params, cap, readOnly, fresh);
        }
    }

    /**
     * Creates the recorded volume (or finds it, when a reboot took only its mount) and mounts its
     * filesystem at the target.
     *
     * @param fresh whether this call recorded the volume: only then is it formatted, and deleted on failure
     */
    private void createAndMount(Attachment wanted, VolumeParameters params, VolumeCapability cap, boolean readOnly,
                                boolean fresh) throws Exception {
        Undo undo = new Undo();
        if (fresh) {
            undo.add(() -> state.remove(wanted));
            undo.add(() -> devices.deleteVolume(wanted.deviceId(), params.eraseAfter()));
        }
        try {
            long size = Math.max(params.sizeBytes(), VolumeCapabilities.minimumUsableBytes(List.of(cap)));
            PmemVolume vol = devices.createVolume(new VolumeRequest(wanted.deviceId(), size, 0, params.mode(),
                    params.eraseAfter(), params.asAttributes()));
            NodeVolumes.requireDevice(vol);
            Attachment withDevice = wanted.withDevice(vol.devicePath());
            state.put(withDevice);
            FaultPoints.reached(FAULT_EPHEMERAL_CREATED);
            Path real = wanted.realPath();
            if (MountPoints.createDirectory(FIELD, real)) {
                undo.add(() -> Files.deleteIfExists(real));
            }
            undo.add(() -> mountPoints.unmountAll(real));
            FilesystemMounter.Outcome o = filesystems.mount(vol, wanted.fsType(), wanted.mountFlags(), readOnly,
                    real, fresh);
            FaultPoints.reached(FAULT_EPHEMERAL_MOUNTED);
            state.update(withDevice.withPhase(Attachment.Phase.DONE));
            LOG.info("ephemeral volume {} ({} bytes, device {}) published at {}: {}, DAX {}", wanted.volumeId(),
                    vol.usableBytes(), vol.devicePath(), wanted.path(), wanted.fsType(), o.dax() ? "on" : "off");
        } catch (Exception e) {
            throw undo.after(e);
        }
    }

    /** Deletes the volume of an ephemeral publication that NodeUnpublishVolume has unmounted. */
    void deleteUnpublished(Attachment a) throws DeviceException {
        delete(a);
        FaultPoints.reached(FAULT_EPHEMERAL_DELETED);
    }

    /**
     * Deletes the volume an ephemeral publication created. Only a volume with an ephemeral ID
     * (see {@link VolumeIds#ephemeral}) is ever deleted: a record from before those IDs may name a
     * persistent volume that an ephemeral publish reused, whose data must survive.
     */
    void delete(Attachment a) throws DeviceException {
        if (!VolumeIds.isEphemeral(a.deviceId())) {
            LOG.warn("ephemeral volume {} at {} uses volume {}, whose ID is not an ephemeral volume's; it is"
                    + " left in place", a.volumeId(), a.path(), a.deviceId());
            return;
        }
        devices.deleteVolume(a.deviceId(), a.eraseAfter());
        LOG.info("ephemeral volume {} (device {}) deleted{}", a.volumeId(), a.deviceId(),
                a.eraseAfter() ? " and erased" : "");
    }
}
