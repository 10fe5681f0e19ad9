package dev.pmemcsi.controller;

import dev.pmemcsi.controller.snapshot.SnapshotIds;
import dev.pmemcsi.csi.v1.DeleteSnapshotResponse;
import dev.pmemcsi.device.KeyedLocks;
import dev.pmemcsi.driver.InvalidRequestException;
import dev.pmemcsi.driver.PreconditionFailedException;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * DeleteSnapshot: removes a snapshot's metadata and image. Volumes restored from it are copies
 * and stay; a snapshot already gone is deleted, as the spec's idempotency asks.
 */
final class SnapshotDeletion {

    private static final Logger LOG = LoggerFactory.getLogger(SnapshotDeletion.class);

    private final LocalNode node;
    private final Snapshots snapshots;

    SnapshotDeletion(LocalNode node, Snapshots snapshots) {
        this.node = node;
        this.snapshots = snapshots;
    }

    @SuppressWarnings("try") // the lock only needs releasing
    DeleteSnapshotResponse delete(String id) throws Exception {
        if (id.isEmpty()) {
            throw new InvalidRequestException("snapshot_id must not be empty");
        }
        Optional<SnapshotIds.Parsed> parsed = SnapshotIds.parse(id);
        if (parsed.isEmpty()) {
            LOG.debug("snapshot ID is not one this driver makes; nothing to delete");
            return DeleteSnapshotResponse.getDefaultInstance();
        }
        String key = parsed.get().key();
        if (snapshots.store.get(key).isEmpty() && !parsed.get().isOf(node.id())) {
            // Answering OK here would let Kubernetes forget a snapshot whose image stays on its node.
            throw new PreconditionFailedException("snapshot " + id + " lives on " + parsed.get().describeNode()
                    + ", not on node \"" + node.id() + "\"; only the driver there can delete it");
        }
        try (KeyedLocks.Held held = snapshots.lockSnapshot(key, id)) {
            if (snapshots.store.get(key).isEmpty()) {
                snapshots.store.discard(key);
                LOG.debug("snapshot does not exist");
                return DeleteSnapshotResponse.getDefaultInstance();
            }
            snapshots.store.delete(key);
            LOG.info("deleted snapshot {}; {} snapshot(s) left, {} bytes on disk", id, snapshots.store.count(),
                    snapshots.store.storedBytes());
            return DeleteSnapshotResponse.getDefaultInstance();
        }
    }
}
