package dev.pmemcsi.controller.snapshot;

import dev.pmemcsi.driver.FilesystemFreezer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * How the controller takes and restores snapshots.
 *
 * @param snapshotDir where the images and their metadata live (the node's ordinary disk)
 * @param stateDir    the controller's own records: which volumes are copies, and a private
 *                    directory for mounting a copied filesystem before it is handed out
 * @param freezeLimit how long a filesystem may stay frozen for one copy
 * @param freezer     freezes a volume's filesystem where the node staged it
 */
public record SnapshotConfig(Path snapshotDir, Path stateDir, Duration freezeLimit, FilesystemFreezer freezer) {

    public SnapshotConfig {
        Objects.requireNonNull(snapshotDir, "snapshotDir");
        Objects.requireNonNull(stateDir, "stateDir");
        Objects.requireNonNull(freezer, "freezer");
        if (freezeLimit.isNegative() || freezeLimit.isZero()) {
            throw new IllegalArgumentException("the freeze limit must be positive: " + freezeLimit);
        }
    }
}
