package dev.pmemcsi.driver;

import dev.pmemcsi.device.KeyedLocks;

/**
 * At most one operation per volume at a time. CSI asks a plugin to answer a second, concurrent
 * operation on the same volume with ABORTED rather than to queue it: the caller retries later, so
 * the services use {@link #acquire} and never wait.
 *
 * <p>Keys are volume IDs. CreateVolume locks the ID derived from the name, so it collides with any
 * other operation on that volume.
 */
public final class VolumeLocks extends KeyedLocks {

    /** Holds volume {@code volumeId}, or refuses when another operation holds it. */
    public Held acquire(String volumeId) throws OperationInProgressException {
        return tryAcquire(volumeId).orElseThrow(() -> OperationInProgressException.onVolume(volumeId));
    }
}
