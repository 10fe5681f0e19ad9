package dev.pmemcsi.controller;

import dev.pmemcsi.controller.snapshot.BlockCopy;
import dev.pmemcsi.controller.snapshot.CopyEnds;
import dev.pmemcsi.controller.snapshot.RestoreJournal;
import dev.pmemcsi.controller.snapshot.SnapshotIds;
import dev.pmemcsi.controller.snapshot.SnapshotRecord;
import dev.pmemcsi.csi.v1.CreateVolumeRequest;
import dev.pmemcsi.csi.v1.VolumeContentSource;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.FaultPoints;
import dev.pmemcsi.device.KeyedLocks;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.OutOfRangeException;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.VolumeAccess;
import dev.pmemcsi.device.VolumeExistsException;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.device.VolumeNotFoundException;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.driver.InvalidRequestException;
import dev.pmemcsi.driver.NodeExcludedException;
import dev.pmemcsi.driver.PreconditionFailedException;
import dev.pmemcsi.driver.VolumeLocks;
import dev.pmemcsi.pmemnative.mount.Filesystems;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * CreateVolume with a {@code volume_content_source}: the volume is created through the device
 * layer as any other, then a snapshot's image or another volume's device is copied onto it, and
 * a filesystem in the copy is made a volume of its own ({@link dev.pmemcsi.controller.snapshot.RestoredFilesystem}):
 * consistent, with a new UUID, grown to the volume's capacity.
 *
 * <p>The copy is crash-safe through the {@link RestoreJournal}: the volume is recorded as
 * COPYING before it is created and as DONE once its copy is durable. A volume still COPYING is
 * never answered: a repeated CreateVolume deletes it and copies again, and the driver's start
 * deletes it. The journal also makes a repeated call with another source fail with ALREADY_EXISTS.
 */
final class VolumeSources {

    private static final Logger LOG = LoggerFactory.getLogger(VolumeSources.class);

    // Test-only crash points (see FaultPoints).
    /** The new volume exists and is recorded as COPYING; nothing is copied yet. */
    static final String FAULT_RESTORE_CREATED = "controller.restore.created";
    /** The copy is on the new volume; the record still says COPYING. */
    static final String FAULT_RESTORE_COPIED = "controller.restore.copied";

    /** Creates the volume a request asks for, the way CreateVolume does without a source. */
    @FunctionalInterface
    interface Creator {
        PmemVolume create(VolumeRequest request) throws DeviceException;
    }

    /** A volume and where its content came from. */
    record Made(PmemVolume volume, VolumeContentSource source) {}

    private final LocalNode node;
    private final DeviceManager devices;
    private final VolumeLocks locks;
    private final Snapshots snapshots;

    VolumeSources(LocalNode node, DeviceManager devices, VolumeLocks locks, Snapshots snapshots) {
        this.node = node;
        this.devices = devices;
        this.locks = locks;
        this.snapshots = snapshots;
    }

    /** Whether this class answers the request: it names a source, or its volume is a copy. */
    boolean concerns(CreateVolumeRequest req, String volumeId) {
        return req.hasVolumeContentSource() || snapshots.journal.get(volumeId).isPresent();
    }

    /** The content source of volume {@code volumeId}, when it is a finished copy. */
    Optional<VolumeContentSource> sourceOf(String volumeId) {
        return snapshots.journal.get(volumeId)
                .filter(e -> e.phase() == RestoreJournal.Phase.DONE)
                .map(VolumeSources::toCsi);
    }

    /** Checks the source's shape; nothing is looked up. */
    static void validate(CreateVolumeRequest req) throws InvalidRequestException {
        if (!req.hasVolumeContentSource()) {
            return;
        }
        VolumeContentSource s = req.getVolumeContentSource();
        switch (s.getTypeCase()) {
            case SNAPSHOT -> {
                if (s.getSnapshot().getSnapshotId().isEmpty()) {
                    throw new InvalidRequestException("volume_content_source.snapshot.snapshot_id must not be empty");
                }
            }
            case VOLUME -> {
                if (s.getVolume().getVolumeId().isEmpty()) {
                    throw new InvalidRequestException("volume_content_source.volume.volume_id must not be empty");
                }
            }
            default -> throw new InvalidRequestException("volume_content_source names neither a snapshot nor a volume");
        }
    }

    /**
     * Answers a CreateVolume this class {@link #concerns}. The caller holds the new volume's lock.
     *
     * @param request what the call asks for, sizes as the caller gave them
     */
    Made create(CreateVolumeRequest req, VolumeRequest request, Creator creator) throws Exception {
        String id = request.volumeId();
        Optional<RestoreJournal.Entry> entry = snapshots.journal.get(id);
        Optional<PmemVolume> existing = devices.getVolume(id);
        Optional<VolumeContentSource> asked = req.hasVolumeContentSource()
                ? Optional.of(req.getVolumeContentSource()) : Optional.empty();
        if (entry.isPresent() && entry.get().phase() == RestoreJournal.Phase.COPYING) {
            // An earlier call died or failed while copying: its partial copy is never handed out.
            if (existing.isPresent()) {
                LOG.warn("volume {} holds an unfinished copy of {}; deleting it to copy again", id,
                        entry.get().sourceId());
                snapshots.discardVolume(devices, id);
            }
            snapshots.journal.forget(id);
            entry = Optional.empty();
            existing = Optional.empty();
        }
        if (existing.isPresent()) {
            return repeated(req.getName(), request, existing.get(), entry, asked);
        }
        if (entry.isPresent()) {
            snapshots.journal.forget(id); // the volume is gone; its record is stale
        }
        if (asked.isEmpty()) {
            return new Made(creator.create(request), null);
        }
        return switch (asked.get().getTypeCase()) {
            case SNAPSHOT -> restore(request, asked.get(), creator, req);
            case VOLUME -> cloneVolume(request, asked.get(), creator, req);
            default -> throw new InvalidRequestException("volume_content_source names neither a snapshot nor a volume");
        };
    }

    private static Made repeated(String name, VolumeRequest request, PmemVolume existing,
                                 Optional<RestoreJournal.Entry> entry, Optional<VolumeContentSource> asked)
            throws VolumeExistsException {
        Optional<VolumeContentSource> made = entry.map(VolumeSources::toCsi);
        if (!made.equals(asked)) {
            throw new VolumeExistsException("volume \"" + name + "\" (" + existing.id() + ") already exists "
                    + made.map(s -> "as a copy of " + describe(s)).orElse("without a content source") + ", not "
                    + asked.map(s -> "from " + describe(s)).orElse("without a content source"));
        }
        Optional<String> mismatch = request.mismatch(existing);
        if (mismatch.isPresent()) {
            throw new VolumeExistsException("volume \"" + name + "\" (" + existing.id() + ") already exists with "
                    + mismatch.get());
        }
        return new Made(existing, made.orElse(null));
    }

    @SuppressWarnings("try") // the lock only needs releasing
    private Made restore(VolumeRequest request, VolumeContentSource source, Creator creator, CreateVolumeRequest req)
            throws Exception {
        String snapshotId = source.getSnapshot().getSnapshotId();
        SnapshotIds.Parsed parsed = SnapshotIds.parse(snapshotId).orElseThrow(() -> new VolumeNotFoundException(
                "snapshot " + snapshotId + " does not exist: it is no ID this driver makes"));
        if (snapshots.store.get(parsed.key()).isEmpty() && !parsed.isOf(node.id())) {
            throw elsewhere("snapshot " + snapshotId + " lives on " + parsed.describeNode(), "snapshot");
        }
        try (KeyedLocks.Held held = snapshots.lockSnapshot(parsed.key(), snapshotId)) {
            SnapshotRecord snap = snapshots.store.get(parsed.key()).orElseThrow(() -> new VolumeNotFoundException(
                    "snapshot " + snapshotId + " does not exist on node \"" + node.id() + "\""));
            PmemVolume volume = createFor(request, snap.sizeBytes(), snap.fsType(), "snapshot " + snapshotId, creator,
                    req, RestoreJournal.SourceKind.SNAPSHOT, snapshotId);
            try {
                long deviceBytes = CopyEnds.sizeOf(volume.devicePath());
                Path image = snapshots.store.image(snap.key());
                BlockCopy.Result r;
                try (BlockCopy.Source src = CopyEnds.readImage(image, snap.imageBytes());
                     BlockCopy.Sink dst = CopyEnds.writeDevice(volume.devicePath(),
                             Math.min(snap.imageBytes(), deviceBytes))) {
                    r = snapshots.listener.timed(OperationListener.Kind.RESTORE,
                            "snapshot " + snapshotId + " onto volume " + volume.id(),
                            () -> snapshots.copier.copy(src, dst, () -> { }));
                }
                if (r.crc32c() != snap.crc32c()) {
                    throw new PreconditionFailedException("snapshot " + snapshotId + " is damaged: its image "
                            + image + " has checksum " + Long.toHexString(r.crc32c()) + ", its metadata says "
                            + Long.toHexString(snap.crc32c()) + "; delete the snapshot and take it again");
                }
                return finish(volume, snap.fsType(), source);
            } catch (Exception e) {
                throw undo(volume.id(), e);
            }
        }
    }

    @SuppressWarnings("try") // the lock only needs releasing
    private Made cloneVolume(VolumeRequest request, VolumeContentSource source, Creator creator,
                             CreateVolumeRequest req) throws Exception {
        String sourceId = source.getVolume().getVolumeId();
        if (sourceId.equals(request.volumeId())) {
            throw new InvalidRequestException("volume " + sourceId + " cannot be cloned into itself");
        }
        if (!VolumeIds.isValid(sourceId) || VolumeIds.isEphemeral(sourceId)) {
            throw new VolumeNotFoundException("source volume " + sourceId + " does not exist");
        }
        try (VolumeLocks.Held held = locks.acquire(sourceId)) {
            PmemVolume from = devices.getVolume(sourceId).orElseThrow(() -> new VolumeNotFoundException(
                    "source volume " + sourceId + " does not exist on node \"" + node.id() + "\"; a clone is made"
                    + " by the driver on its source's node: pin the pod that uses the clone to that node (node"
                    + " affinity on " + node.topologyKey() + ", docs/snapshots.md)"));
            String fsType = snapshots.contentType(from.devicePath());
            PmemVolume volume = createFor(request, from.capacityBytes(), fsType, "volume " + sourceId, creator, req,
                    RestoreJournal.SourceKind.VOLUME, sourceId);
            try {
                long deviceBytes = CopyEnds.sizeOf(volume.devicePath());
                snapshots.copyVolume(from, OperationListener.Kind.CLONE,
                        "volume " + sourceId + " onto volume " + volume.id(),
                        length -> CopyEnds.writeDevice(volume.devicePath(), Math.min(length, deviceBytes)));
                return finish(volume, fsType, source);
            } catch (Exception e) {
                throw undo(volume.id(), e);
            }
        }
    }

    /** Checks size and use against the source, records the copy as COPYING, creates the volume. */
    private PmemVolume createFor(VolumeRequest request, long sourceBytes, String sourceContent, String what,
                                 Creator creator, CreateVolumeRequest req, RestoreJournal.SourceKind kind,
                                 String sourceId) throws Exception {
        if (request.limitBytes() != 0 && request.limitBytes() < sourceBytes) {
            throw new OutOfRangeException("limit_bytes " + request.limitBytes() + " is below the " + sourceBytes
                    + " bytes of " + what + "; a volume made from it needs at least that many");
        }
        VolumeAccess access = request.access();
        if (!access.filesystem().isEmpty() && !sourceContent.isEmpty() && !sourceContent.equals(access.filesystem())) {
            throw new InvalidRequestException(what + " holds " + describeContent(sourceContent)
                    + ", but the request asks for an " + access.filesystem() + " filesystem");
        }
        snapshots.journal.begin(request.volumeId(), kind, sourceId);
        long required = Math.max(request.requiredBytes(), sourceBytes);
        PmemVolume volume;
        try {
            volume = creator.create(new VolumeRequest(request.volumeId(), required, request.limitBytes(),
                    request.mode(), request.eraseAfter(), request.attributes(), access));
        } catch (Exception e) {
            snapshots.journal.forget(request.volumeId());
            throw e;
        }
        FaultPoints.reached(FAULT_RESTORE_CREATED);
        LOG.info("copying {} onto volume {} (capacity {} bytes)", what, volume.id(), volume.capacityBytes());
        return volume;
    }

    /** Prepares a copied filesystem, records the copy as DONE. */
    private Made finish(PmemVolume volume, String content, VolumeContentSource source) throws Exception {
        if (Snapshots.prepares(content) && !volume.access().filesystem().isEmpty()) {
            long fsBytes = volume.capacityBytes() / Filesystems.BLOCK_SIZE * Filesystems.BLOCK_SIZE;
            snapshots.filesystems.prepare(volume.id(), content, volume.devicePath(), fsBytes);
        }
        FaultPoints.reached(FAULT_RESTORE_COPIED);
        RestoreJournal.Entry e = snapshots.journal.get(volume.id()).orElseThrow();
        snapshots.journal.done(e);
        LOG.info("volume {} is a complete copy of {}", volume.id(), describe(source));
        return new Made(volume, source);
    }

    /** A failed copy leaves nothing: the volume is deleted (erased when created so) and forgotten. */
    private Exception undo(String volumeId, Exception e) {
        try {
            snapshots.discardVolume(devices, volumeId);
            snapshots.journal.forget(volumeId);
        } catch (DeviceException | IOException | RuntimeException suppressed) {
            // The record stays COPYING: the next call, or the next start, deletes the volume.
            e.addSuppressed(suppressed);
        }
        return e;
    }

    /** The source lives on another node: RESOURCE_EXHAUSTED, on which Kubernetes schedules the pod again. */
    private NodeExcludedException elsewhere(String where, String what) {
        return new NodeExcludedException(where + ", not on node \"" + node.id() + "\": a volume made from a " + what
                + " can only be created on the " + what + "'s node. Pin the pod to that node with node affinity"
                + " on " + node.topologyKey() + " (docs/snapshots.md)");
    }

    private static String describeContent(String content) {
        return content.equals("unknown") ? "content blkid cannot identify"
                : content.startsWith("partition table") ? "a " + content : "an " + content + " filesystem";
    }

    static VolumeContentSource toCsi(RestoreJournal.Entry e) {
        VolumeContentSource.Builder b = VolumeContentSource.newBuilder();
        if (e.kind() == RestoreJournal.SourceKind.SNAPSHOT) {
            b.setSnapshot(VolumeContentSource.SnapshotSource.newBuilder().setSnapshotId(e.sourceId()));
        } else {
            b.setVolume(VolumeContentSource.VolumeSource.newBuilder().setVolumeId(e.sourceId()));
        }
        return b.build();
    }

    private static String describe(VolumeContentSource s) {
        return s.hasSnapshot() ? "snapshot " + s.getSnapshot().getSnapshotId() : "volume " + s.getVolume().getVolumeId();
    }
}
