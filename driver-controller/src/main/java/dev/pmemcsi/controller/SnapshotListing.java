package dev.pmemcsi.controller;

import dev.pmemcsi.controller.snapshot.SnapshotIds;
import dev.pmemcsi.controller.snapshot.SnapshotRecord;
import dev.pmemcsi.csi.v1.ListSnapshotsRequest;
import dev.pmemcsi.csi.v1.ListSnapshotsResponse;
import dev.pmemcsi.driver.InvalidRequestException;
import dev.pmemcsi.driver.InvalidStartingTokenException;
import java.util.List;

/**
 * ListSnapshots: this node's snapshots in snapshot ID order, filtered by snapshot ID or source
 * volume, a page at a time. It only reads and takes no lock. A token is the last ID of the previous
 * page; it stays meaningful whatever is taken or deleted in between, as ListVolumes' tokens do.
 */
final class SnapshotListing {

    private final Snapshots snapshots;

    SnapshotListing(Snapshots snapshots) {
        this.snapshots = snapshots;
    }

    ListSnapshotsResponse list(ListSnapshotsRequest req) throws InvalidRequestException, InvalidStartingTokenException {
        if (req.getMaxEntries() < 0) {
            throw new InvalidRequestException("max_entries must not be negative: " + req.getMaxEntries());
        }
        String token = req.getStartingToken();
        if (!token.isEmpty() && SnapshotIds.parse(token).isEmpty()) {
            throw new InvalidStartingTokenException("starting_token \"" + token
                    + "\" was not issued by this driver; start again without a token");
        }
        String wantedId = req.getSnapshotId();
        String wantedSource = req.getSourceVolumeId();
        List<SnapshotRecord> after = snapshots.store.list().stream()
                .filter(r -> wantedId.isEmpty() || r.id().equals(wantedId))
                .filter(r -> wantedSource.isEmpty() || r.sourceVolumeId().equals(wantedSource))
                .filter(r -> token.isEmpty() || r.id().compareTo(token) > 0)
                .toList();
        int max = req.getMaxEntries() == 0 ? Integer.MAX_VALUE : req.getMaxEntries();
        ListSnapshotsResponse.Builder out = ListSnapshotsResponse.newBuilder();
        for (SnapshotRecord r : after.subList(0, Math.min(max, after.size()))) {
            out.addEntries(ListSnapshotsResponse.Entry.newBuilder().setSnapshot(SnapshotCreation.describe(r)));
        }
        if (after.size() > max) {
            out.setNextToken(after.get(max - 1).id());
        }
        return out.build();
    }
}
