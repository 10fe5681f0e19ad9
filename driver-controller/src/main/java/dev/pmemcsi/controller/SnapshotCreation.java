package dev.pmemcsi.controller;

import com.google.protobuf.Timestamp;
import dev.pmemcsi.controller.snapshot.CopyEnds;
import dev.pmemcsi.controller.snapshot.SnapshotIds;
import dev.pmemcsi.controller.snapshot.SnapshotRecord;
import dev.pmemcsi.csi.v1.CreateSnapshotRequest;
import dev.pmemcsi.csi.v1.CreateSnapshotResponse;
import dev.pmemcsi.csi.v1.Snapshot;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.FaultPoints;
import dev.pmemcsi.device.KeyedLocks;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.VolumeExistsException;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.device.VolumeNotFoundException;
import dev.pmemcsi.driver.InvalidRequestException;
import dev.pmemcsi.driver.VolumeLocks;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * CreateSnapshot: copies a volume's device into an image in the snapshot directory, with the
 * volume held still ({@link Snapshots#copyVolume}), and answers once the image and its metadata
 * are durable, so every snapshot it reports is ready to use.
 *
 * <p>The snapshot ID is derived from the name ({@link SnapshotIds}): a repeated call finds the
 * snapshot it made, also after a restart, and answers it when it has the same source. The call
 * holds the snapshot's lock and the source volume's lock (which the node service shares), so the
 * volume is neither staged, unstaged nor deleted while it is copied.
 */
final class SnapshotCreation {

    private static final Logger LOG = LoggerFactory.getLogger(SnapshotCreation.class);
    /** Keys Kubernetes adds with csi-snapshotter --extra-create-metadata. */
    private static final String RESERVED_PREFIX = "csi.storage.k8s.io/";

    private final LocalNode node;
    private final DeviceManager devices;
    private final VolumeLocks locks;
    private final Snapshots snapshots;

    SnapshotCreation(LocalNode node, DeviceManager devices, VolumeLocks locks, Snapshots snapshots) {
        this.node = node;
        this.devices = devices;
        this.locks = locks;
        this.snapshots = snapshots;
    }

    @SuppressWarnings("try") // the locks only need releasing
    CreateSnapshotResponse create(CreateSnapshotRequest req) throws Exception {
        if (req.getName().isEmpty()) {
            throw new InvalidRequestException("name must not be empty");
        }
        String sourceId = req.getSourceVolumeId();
        if (sourceId.isEmpty()) {
            throw new InvalidRequestException("source_volume_id must not be empty");
        }
        List<String> unknown = req.getParametersMap().keySet().stream()
                .filter(k -> !k.startsWith(RESERVED_PREFIX)).sorted().toList();
        if (!unknown.isEmpty()) {
            throw new InvalidRequestException("unknown snapshot parameters " + unknown
                    + ": a VolumeSnapshotClass of this driver takes none");
        }
        String key = SnapshotIds.key(req.getName());
        String id = SnapshotIds.id(key, node.id());
        try (KeyedLocks.Held snapshot = snapshots.lockSnapshot(key, id)) {
            Optional<SnapshotRecord> existing = snapshots.store.get(key);
            if (existing.isPresent()) {
                if (!existing.get().sourceVolumeId().equals(sourceId)) {
                    throw new VolumeExistsException("snapshot \"" + req.getName() + "\" (" + id + ") already exists,"
                            + " taken from volume " + existing.get().sourceVolumeId() + ", not from " + sourceId);
                }
                LOG.debug("snapshot {} exists and has the same source", id);
                return response(existing.get());
            }
            if (!VolumeIds.isValid(sourceId) || VolumeIds.isEphemeral(sourceId)) {
                throw notFound(sourceId);
            }
            try (VolumeLocks.Held volume = locks.acquire(sourceId)) {
                PmemVolume source = devices.getVolume(sourceId).orElseThrow(() -> notFound(sourceId));
                SnapshotRecord r = take(req.getName(), key, id, source);
                LOG.info("snapshot {} of volume {} taken: {} bytes of image, {} on disk", id, sourceId,
                        r.imageBytes(), snapshots.store.storedBytes());
                return response(r);
            }
        }
    }

    private SnapshotRecord take(String name, String key, String id, PmemVolume source) throws Exception {
        Instant taken = Instant.now();
        snapshots.store.discard(key);
        try {
            Snapshots.Copied copied = snapshots.copyVolume(source, OperationListener.Kind.SNAPSHOT,
                    "volume " + source.id() + " into snapshot " + id,
                    length -> CopyEnds.newImage(snapshots.store.temporaryImage(key), length));
            String content = snapshots.contentType(snapshots.store.temporaryImage(key));
            SnapshotRecord r = new SnapshotRecord(SnapshotRecord.FORMAT, id, name, key, source.id(),
                    source.capacityBytes(), copied.length(), content,
                    taken.getEpochSecond() * 1_000_000_000L + taken.getNano(), copied.result().crc32c(), true);
            snapshots.store.commit(r);
            FaultPoints.reached(ControllerService.FAULT_SNAPSHOT_DONE);
            return r;
        } catch (Exception e) {
            try {
                snapshots.store.discard(key);
            } catch (java.io.IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    static CreateSnapshotResponse response(SnapshotRecord r) {
        return CreateSnapshotResponse.newBuilder().setSnapshot(describe(r)).build();
    }

    /** The CSI view of a snapshot: every snapshot the store holds is complete, so ready to use. */
    static Snapshot describe(SnapshotRecord r) {
        return Snapshot.newBuilder()
                .setSnapshotId(r.id())
                .setSourceVolumeId(r.sourceVolumeId())
                .setSizeBytes(r.sizeBytes())
                .setCreationTime(Timestamp.newBuilder()
                        .setSeconds(Math.floorDiv(r.creationNanos(), 1_000_000_000L))
                        .setNanos((int) Math.floorMod(r.creationNanos(), 1_000_000_000L)))
                .setReadyToUse(r.ready())
                .build();
    }

    private VolumeNotFoundException notFound(String id) {
        return new VolumeNotFoundException("source volume " + id + " does not exist on node \"" + node.id()
                + "\"; a snapshot is taken by the driver on the volume's node");
    }
}
