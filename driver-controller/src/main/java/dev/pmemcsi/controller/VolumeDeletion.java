package dev.pmemcsi.controller;

import dev.pmemcsi.csi.v1.DeleteVolumeResponse;
import dev.pmemcsi.controller.snapshot.RestoreJournal;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.FaultPoints;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.device.VolumeInUseException;
import dev.pmemcsi.driver.InvalidRequestException;
import dev.pmemcsi.driver.NodeVolumeUse;
import dev.pmemcsi.driver.OperationInProgressException;
import dev.pmemcsi.driver.PreconditionFailedException;
import dev.pmemcsi.driver.VolumeLocks;
import java.io.IOException;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * DeleteVolume: deletes a volume that no pod uses, and erases it when it was created so. A volume
 * already gone is deleted, as the spec's idempotency asks. The call holds the volume's lock.
 */
final class VolumeDeletion {

    private static final Logger LOG = LoggerFactory.getLogger(VolumeDeletion.class);

    private final LocalNode node;
    private final DeviceManager devices;
    private final VolumeLocks locks;
    private final NodeVolumeUse use;
    /** Forgets where a deleted volume's content came from; null when this driver takes no snapshots. */
    private final RestoreJournal journal;

    VolumeDeletion(LocalNode node, DeviceManager devices, VolumeLocks locks, NodeVolumeUse use,
                   RestoreJournal journal) {
        this.node = node;
        this.devices = devices;
        this.locks = locks;
        this.use = use;
        this.journal = journal;
    }

    @SuppressWarnings("try") // the lock only needs releasing
    DeleteVolumeResponse delete(String id) throws InvalidRequestException, OperationInProgressException,
            PreconditionFailedException, DeviceException, IOException {
        if (id.isEmpty()) {
            throw new InvalidRequestException("volume_id must not be empty");
        }
        if (!VolumeIds.isValid(id)) {
            // No volume can carry such an ID, so it is already gone.
            LOG.debug("volume ID is not one this driver creates; nothing to delete");
            return DeleteVolumeResponse.getDefaultInstance();
        }
        try (VolumeLocks.Held held = locks.acquire(id)) {
            Optional<PmemVolume> volume = devices.getVolume(id);
            if (volume.isEmpty()) {
                // A delete that gave up half way (its device was still open) hides the volume but
                // still holds its space: the backend finishes it, with the erase it recorded then.
                // For an unknown ID this does nothing.
                devices.deleteVolume(id, false);
                forgetSource(id);
                LOG.debug("volume does not exist (any unfinished delete of it is finished now)");
                return DeleteVolumeResponse.getDefaultInstance();
            }
            Optional<String> where = use.usage(id);
            if (where.isPresent()) {
                throw inUse(id, where.get(), null);
            }
            try {
                devices.deleteVolume(id, volume.get().eraseAfter());
            } catch (VolumeInUseException e) {
                throw inUse(id, e.getMessage(), e);
            }
            forgetSource(id);
            LOG.info("deleted volume{}", volume.get().eraseAfter() ? " and erased its data" : "");
            FaultPoints.reached(ControllerService.FAULT_DELETE_DONE);
            return DeleteVolumeResponse.getDefaultInstance();
        }
    }

    private void forgetSource(String id) throws IOException {
        if (journal != null) {
            journal.forget(id);
        }
    }

    private PreconditionFailedException inUse(String id, String where, Throwable cause) {
        return new PreconditionFailedException("volume " + id + " is still in use on node \"" + node.id() + "\": "
                + where, cause);
    }
}
