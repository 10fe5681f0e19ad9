package dev.pmemcsi.node;

import dev.pmemcsi.csi.v1.NodeStageVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnstageVolumeRequest;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.device.FaultPoints;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.driver.PreconditionFailedException;
import dev.pmemcsi.driver.VolumeCapabilities;
import dev.pmemcsi.driver.VolumeLocks;
import dev.pmemcsi.pmemnative.mount.DeviceNumber;
import dev.pmemcsi.pmemnative.mount.MountInfo;
import dev.pmemcsi.pmemnative.mount.MountTable;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.FutureTask;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * NodeStageVolume and NodeUnstageVolume: a mount-access volume's filesystem is made once (only on
 * an empty device) and mounted with DAX at the staging path; a block-access volume is only
 * checked and recorded, since its device node is bound straight into each pod.
 */
final class Staging {

    private static final Logger LOG = LoggerFactory.getLogger(Staging.class);
    private static final String FIELD = "staging_target_path";

    // Test-only crash points (see FaultPoints): each sits between two steps whose partial
    // outcome a restart must repair.
    /** The PENDING staging record is durable; nothing is mounted yet. */
    static final String FAULT_STAGE_RECORDED = "node.stage.recorded";
    /** The filesystem is mounted at the staging path; the record still says PENDING. */
    static final String FAULT_STAGE_MOUNTED = "node.stage.mounted";
    /** The staging path is unmounted; its REMOVING record is still there. */
    static final String FAULT_UNSTAGE_UNMOUNTED = "node.unstage.unmounted";

    private final NodeState state;
    private final NodePaths paths;
    private final OperationLocks locks;
    private final NodeVolumes volumes;
    private final MountPoints mountPoints;
    private final FilesystemMounter filesystems;
    /** Writes state records while mkfs runs; idle threads go away after a minute. */
    private final ExecutorService background = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "node-state-writer");
        t.setDaemon(true);
        return t;
    });

    Staging(NodeState state, NodePaths paths, OperationLocks locks, NodeVolumes volumes, MountPoints mountPoints,
            FilesystemMounter filesystems) {
        this.state = state;
        this.paths = paths;
        this.locks = locks;
        this.volumes = volumes;
        this.mountPoints = mountPoints;
        this.filesystems = filesystems;
    }

    void stage(NodeStageVolumeRequest req) throws Exception {
        String id = RequestFields.nonEmpty("volume_id", req.getVolumeId());
        Path path = NodePaths.parse(FIELD, req.getStagingTargetPath());
        paths.confine(FIELD, path);
        VolumeCapability cap = RequestFields.capability(req.hasVolumeCapability(), req.getVolumeCapability());
        Path real = mountPoints.resolve(FIELD, path);
        try (VolumeLocks.Held held = locks.volume(id); VolumeLocks.Held atPath = locks.path(FIELD, real)) {
            PmemVolume vol = volumes.persistent(id);
            NodeVolumes.requireDevice(vol);
            Attachment.Capability capability = Attachment.Capability.of(cap);
            mountPoints.requireUnused(FIELD, path, real,
                    a -> a.kind() == Attachment.Kind.STAGED && a.volumeId().equals(id));
            if (capability.access() == Attachment.Access.MOUNT) {
                // Also refuses a path of another type before mkfs runs.
                MountPoints.createDirectory(FIELD, real);
            }
            Attachment wanted = Attachment.staging(id, path, real, capability, vol.devicePath(), vol.eraseAfter());
            Optional<Attachment> existing = state.staged(id);
            Optional<Exception> conflict = Conflicts.stage(existing, wanted);
            if (conflict.isPresent()) {
                throw conflict.get();
            }
            if (capability.access() == Attachment.Access.BLOCK) {
                // Nothing to mount: the device is bind-mounted straight into each pod.
                recordDone(wanted, existing);
                LOG.info("block volume {} staged (device {})", id, vol.devicePath());
                return;
            }
            stageFilesystem(vol, wanted, existing, VolumeCapabilities.isReadOnlyMode(cap));
        }
    }

    /** Stages a mount-access volume, unless its filesystem already is at the staging path. */
    private void stageFilesystem(PmemVolume vol, Attachment wanted, Optional<Attachment> existing, boolean readOnly)
            throws Exception {
        DeviceNumber devNo = DeviceNumber.ofBlockDevice(vol.devicePath());
        MountTable mounts = MountTable.read();
        Optional<MountInfo> top = mounts.top(wanted.realPath());
        if (top.isPresent()) {
            if (!devNo.matches(top.get())) {
                throw new PreconditionFailedException("staging path " + wanted.path() + " already has "
                        + top.get().source() + " (" + top.get().fsType() + ") mounted");
            }
            recordDone(wanted, existing);
            LOG.debug("volume {} is already staged at {}", wanted.volumeId(), wanted.path());
            return;
        }
        if (existing.isEmpty()) {
            List<MountInfo> elsewhere = mounts.ofDevice(devNo.major(), devNo.minor());
            if (!elsewhere.isEmpty()) {
                throw new PreconditionFailedException("device " + vol.devicePath() + " of volume "
                        + wanted.volumeId() + " is already mounted at " + elsewhere.get(0).mountPoint()
                        + ", which the driver has no record of");
            }
        }
        formatAndMount(vol, wanted, readOnly);
    }

    private void recordDone(Attachment wanted, Optional<Attachment> existing) throws IOException {
        if (existing.isEmpty() || existing.get().phase() != Attachment.Phase.DONE) {
            state.put(wanted.withPhase(Attachment.Phase.DONE));
        }
    }

    private void formatAndMount(PmemVolume vol, Attachment wanted, boolean readOnly) throws Exception {
        Undo undo = new Undo();
        undo.add(() -> state.remove(wanted));
        // The record must be on disk before the mount, not before mkfs: a crash after mkfs
        // leaves a formatted, unmounted device, which the next stage uses as it is. So the
        // record's fsyncs run while mkfs does.
        FutureTask<Void> record = new FutureTask<>(() -> {
            state.put(wanted);
            return null;
        });
        background.execute(record);
        try {
            boolean formatted;
            try {
                formatted = filesystems.prepare(vol, wanted.fsType(), true);
            } finally {
                awaitRecord(record);
            }
            FaultPoints.reached(FAULT_STAGE_RECORDED);
            undo.add(() -> mountPoints.unmountAll(wanted.realPath()));
            boolean dax = filesystems.mountPrepared(vol, wanted.fsType(), wanted.mountFlags(), readOnly,
                    wanted.realPath());
            FaultPoints.reached(FAULT_STAGE_MOUNTED);
            state.update(wanted.withPhase(Attachment.Phase.DONE));
            LOG.info("volume {} staged at {}: {}{}, DAX {}", wanted.volumeId(), wanted.path(), wanted.fsType(),
                    formatted ? " (new filesystem)" : "", dax ? "on" : "off");
        } catch (Exception e) {
            throw undo.after(e);
        }
    }

    private static void awaitRecord(FutureTask<Void> record) throws IOException, InterruptedException {
        try {
            record.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw new IllegalStateException("writing the state record failed", e.getCause());
        }
    }

    void unstage(NodeUnstageVolumeRequest req) throws Exception {
        String id = RequestFields.nonEmpty("volume_id", req.getVolumeId());
        Path path = NodePaths.parse(FIELD, req.getStagingTargetPath());
        paths.confine(FIELD, path);
        try (VolumeLocks.Held held = locks.volume(id);
             VolumeLocks.Held atPath = locks.path(FIELD, paths.resolveOr(FIELD, path, path))) {
            Optional<Attachment> rec = state.staged(id);
            if (rec.isPresent() && !rec.get().path().equals(path)) {
                throw new PreconditionFailedException("volume " + id + " is staged at "
                        + rec.get().path() + ", not at " + path);
            }
            List<Attachment> published = state.publishedOf(id);
            if (!published.isEmpty()) {
                throw new PreconditionFailedException("volume " + id + " is still published at "
                        + published.get(0).path() + "; unpublish it first");
            }
            Path real = paths.resolveOr(FIELD, path, rec.map(Attachment::realPath).orElse(path));
            if (rec.isEmpty() && mountPoints.recordedOtherwise(FIELD, id, path, real)) {
                return;
            }
            if (rec.isEmpty() && !mountPoints.holdsVolume(id, real)) {
                // Not staged here by the driver: whatever is mounted at the path belongs to someone else.
                LOG.info("volume {} is not staged at {}; nothing to do", id, path);
                return;
            }
            if (rec.isPresent()) {
                state.put(rec.get().withPhase(Attachment.Phase.REMOVING));
            }
            int unmounted = mountPoints.unmountAll(real);
            FaultPoints.reached(FAULT_UNSTAGE_UNMOUNTED);
            if (rec.isPresent()) {
                state.remove(rec.get());
            }
            // The staging directory itself belongs to the CO (kubelet removes it), so it stays.
            LOG.info("volume {} unstaged from {}{}", id, path,
                    rec.isEmpty() && unmounted == 0 ? " (it was neither recorded nor mounted)" : "");
        }
    }
}
