package dev.pmemcsi.node;

import dev.pmemcsi.csi.v1.NodePublishVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnpublishVolumeRequest;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.device.FaultPoints;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.driver.PreconditionFailedException;
import dev.pmemcsi.driver.VolumeCapabilities;
import dev.pmemcsi.driver.VolumeLocks;
import dev.pmemcsi.driver.VolumeParameters;
import dev.pmemcsi.pmemnative.mount.MountInfo;
import dev.pmemcsi.pmemnative.mount.MountOptions;
import dev.pmemcsi.pmemnative.mount.MountTable;
import dev.pmemcsi.pmemnative.mount.Mounter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * NodePublishVolume and NodeUnpublishVolume: a staged volume is bind-mounted into a pod, its
 * staging directory for mount access and its device node for block access. Inline volumes are
 * handed to {@link EphemeralVolumes}; unpublishing one deletes it.
 */
final class Publishing {

    private static final Logger LOG = LoggerFactory.getLogger(Publishing.class);
    private static final String FIELD = "target_path";

    // Test-only crash points (see FaultPoints).
    /** The PENDING publication record is durable; the target is not created or bound yet. */
    static final String FAULT_PUBLISH_RECORDED = "node.publish.recorded";
    /** The bind mount is in place; the record still says PENDING. */
    static final String FAULT_PUBLISH_MOUNTED = "node.publish.mounted";
    /** The target is unmounted but not removed; its REMOVING record is still there. */
    static final String FAULT_UNPUBLISH_UNMOUNTED = "node.unpublish.unmounted";

    private final NodeState state;
    private final NodePaths paths;
    private final OperationLocks locks;
    private final NodeVolumes volumes;
    private final MountPoints mountPoints;
    private final Mounter mounter;
    private final EphemeralVolumes ephemeralVolumes;

    Publishing(NodeState state, NodePaths paths, OperationLocks locks, NodeVolumes volumes, MountPoints mountPoints,
               Mounter mounter, EphemeralVolumes ephemeralVolumes) {
        this.state = state;
        this.paths = paths;
        this.locks = locks;
        this.volumes = volumes;
        this.mountPoints = mountPoints;
        this.mounter = mounter;
        this.ephemeralVolumes = ephemeralVolumes;
    }

    void publish(NodePublishVolumeRequest req) throws Exception {
        String id = RequestFields.nonEmpty("volume_id", req.getVolumeId());
        Path target = NodePaths.parse(FIELD, req.getTargetPath());
        paths.confine(FIELD, target);
        VolumeCapability cap = RequestFields.capability(req.hasVolumeCapability(), req.getVolumeCapability());
        if ("true".equalsIgnoreCase(req.getVolumeContextMap().get(VolumeParameters.EPHEMERAL))) {
            ephemeralVolumes.publish(req, id, target, cap);
            return;
        }
        Path staging = NodePaths.parse("staging_target_path", req.getStagingTargetPath());
        paths.confine("staging_target_path", staging);
        Path real = mountPoints.resolve(FIELD, target);
        try (VolumeLocks.Held held = locks.volume(id); VolumeLocks.Held atPath = locks.path(FIELD, real)) {
            PmemVolume vol = volumes.persistent(id);
            Attachment stage = stagedAt(id, staging);
            Attachment.Capability capability = Attachment.Capability.of(cap);
            if (capability.access() != stage.access()) {
                throw new PreconditionFailedException("volume " + id + " is staged for "
                        + stage.access() + " access, not " + capability.access());
            }
            mountPoints.requireUnused(FIELD, target, real, a -> a.kind() == Attachment.Kind.PUBLISHED);
            Attachment wanted = Attachment.publication(id, target, real, capability, req.getReadonly(), staging,
                    vol.devicePath());
            Optional<Attachment> existing = state.publishedAt(target);
            Optional<Exception> conflict = Conflicts.publish(existing, state.publishedOf(id), wanted);
            if (conflict.isPresent()) {
                throw conflict.get();
            }
            MountTable mounts = MountTable.read();
            if (alreadyPublished(wanted, existing, vol, mounts)) {
                return;
            }
            MountPoints.requireType(FIELD, real, capability.access() == Attachment.Access.MOUNT);
            if (capability.access() == Attachment.Access.MOUNT) {
                requireStagingMount(stage, vol, mounts);
            }
            bind(wanted, stage, vol, req.getReadonly() || VolumeCapabilities.isReadOnlyMode(cap));
        }
    }

    /** The volume's finished staging at {@code staging}, which publishing requires. */
    private Attachment stagedAt(String id, Path staging) throws Exception {
        Attachment stage = state.staged(id)
                .filter(s -> s.phase() == Attachment.Phase.DONE)
                .orElseThrow(() -> new PreconditionFailedException("volume " + id
                        + " is not staged; NodeStageVolume must come first"));
        if (!stage.path().equals(staging)) {
            throw new PreconditionFailedException("volume " + id + " is staged at " + stage.path()
                    + ", not at " + staging);
        }
        // The bind source too: a record may predate the confinement or the current --kubelet-dir.
        paths.confine("staging_target_path", stage.realPath());
        return stage;
    }

    /**
     * True when the publication is in place already; refuses a target with anything else mounted,
     * which the driver has no record of.
     */
    private static boolean alreadyPublished(Attachment wanted, Optional<Attachment> existing, PmemVolume vol,
                                            MountTable mounts) throws Exception {
        Optional<MountInfo> top = mounts.top(wanted.realPath());
        if (top.isEmpty()) {
            return false;
        }
        if (existing.isPresent() && existing.get().phase() == Attachment.Phase.DONE
                && MountPoints.showsVolume(vol.devicePath(), wanted.access(), wanted.realPath(), mounts)) {
            LOG.debug("volume {} is already published at {}", wanted.volumeId(), wanted.path());
            return true;
        }
        throw new PreconditionFailedException("target path " + wanted.path() + " already has "
                + top.get().source() + " (" + top.get().fsType() + ") mounted, which the driver has no"
                + " record of");
    }

    /**
     * Publishing binds the staging directory, so it must hold the volume's filesystem: binding the
     * bare directory would hand the pod the node's root disk. A staging mount that vanished (an
     * unmount behind the driver's back) is restored from the record; anything else mounted there
     * is refused.
     */
    private void requireStagingMount(Attachment stage, PmemVolume vol, MountTable mounts) throws Exception {
        if (MountPoints.showsVolume(vol.devicePath(), Attachment.Access.MOUNT, stage.realPath(), mounts)) {
            return;
        }
        Optional<MountInfo> top = mounts.top(stage.realPath());
        if (top.isPresent()) {
            throw new PreconditionFailedException("staging path " + stage.path() + " of volume "
                    + stage.volumeId() + " has " + top.get().source() + " (" + top.get().fsType() + ") mounted,"
                    + " not the volume's filesystem; unstage and stage the volume again");
        }
        NodeVolumes.requireDevice(vol);
        LOG.warn("volume {} is recorded as staged at {}, but its filesystem is no longer mounted there;"
                + " mounting it again", stage.volumeId(), stage.path());
        mountPoints.remount(stage, vol);
    }

    /** Records the publication, then binds the staging directory (or the device node) onto the target. */
    private void bind(Attachment wanted, Attachment stage, PmemVolume vol, boolean readOnly) throws Exception {
        state.put(wanted);
        FaultPoints.reached(FAULT_PUBLISH_RECORDED);
        Undo undo = new Undo();
        undo.add(() -> state.remove(wanted));
        Path real = wanted.realPath();
        try {
            long flags = readOnly ? MountOptions.MS_RDONLY : 0;
            boolean mount = wanted.access() == Attachment.Access.MOUNT;
            if (mount ? MountPoints.createDirectory(FIELD, real) : MountPoints.createFile(real)) {
                undo.add(() -> Files.deleteIfExists(real));
            }
            undo.add(() -> mountPoints.unmountAll(real));
            if (mount) {
                mounter.bind(stage.realPath(), real, flags | MountOptions.of(wanted.mountFlags()).flags());
            } else {
                mounter.bind(vol.devicePath(), real, flags);
            }
            FaultPoints.reached(FAULT_PUBLISH_MOUNTED);
            state.update(wanted.withPhase(Attachment.Phase.DONE));
            LOG.info("volume {} published at {}{}", wanted.volumeId(), wanted.path(), readOnly ? " read-only" : "");
        } catch (Exception e) {
            throw undo.after(e);
        }
    }

    void unpublish(NodeUnpublishVolumeRequest req) throws Exception {
        String id = RequestFields.nonEmpty("volume_id", req.getVolumeId());
        Path target = NodePaths.parse(FIELD, req.getTargetPath());
        paths.confine(FIELD, target);
        try (VolumeLocks.Held held = locks.volume(id);
             VolumeLocks.Held atPath = locks.path(FIELD, paths.resolveOr(FIELD, target, target))) {
            Optional<Attachment> rec = state.publishedAt(target);
            if (rec.isPresent() && !rec.get().volumeId().equals(id)) {
                throw new PreconditionFailedException("target path " + target + " holds volume "
                        + rec.get().volumeId() + ", not " + id);
            }
            Path real = paths.resolveOr(FIELD, target, rec.map(Attachment::realPath).orElse(target));
            if (rec.isEmpty() && mountPoints.recordedOtherwise(FIELD, id, target, real)) {
                return;
            }
            if (rec.isEmpty() && !mountPoints.holdsVolume(id, real)) {
                // Not published here by the driver: what is at the path, mounted or not, is not the
                // driver's to unmount or delete.
                LOG.info("volume {} is not published at {}; nothing to do", id, target);
                return;
            }
            if (rec.isPresent()) {
                state.put(rec.get().withPhase(Attachment.Phase.REMOVING));
            }
            int unmounted = mountPoints.unmountAll(real);
            FaultPoints.reached(FAULT_UNPUBLISH_UNMOUNTED);
            MountPoints.removeTarget(real);
            if (rec.isPresent()) {
                if (rec.get().ephemeral()) {
                    ephemeralVolumes.deleteUnpublished(rec.get());
                }
                state.remove(rec.get());
            }
            LOG.info("volume {} unpublished from {}{}", id, target,
                    rec.isEmpty() && unmounted == 0 ? " (it was neither recorded nor mounted)" : "");
        }
    }
}
