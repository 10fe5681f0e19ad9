package dev.pmemcsi.node;

import dev.pmemcsi.driver.OperationInProgressException;
import dev.pmemcsi.driver.VolumeLocks;
import java.nio.file.Path;

/**
 * The two locks an operation of the node service holds, neither ever waited for: its volume's,
 * shared with the controller, and its path's, keyed by the resolved path. The volume lock alone
 * would let two volumes mount at one path, since every operation looks at the mounts and records
 * of a path and then changes them.
 */
final class OperationLocks {

    private final VolumeLocks volumes;
    private final VolumeLocks paths = new VolumeLocks();

    OperationLocks(VolumeLocks volumes) {
        this.volumes = volumes;
    }

    VolumeLocks.Held volume(String id) throws OperationInProgressException {
        return volumes.acquire(id);
    }

    VolumeLocks.Held path(String field, Path real) throws OperationInProgressException {
        return paths.tryAcquire(real.toString()).orElseThrow(() -> new OperationInProgressException(
                "another operation on " + field + " " + real + " is in progress; retry later"));
    }
}
