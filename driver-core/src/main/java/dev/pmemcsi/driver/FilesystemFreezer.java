package dev.pmemcsi.driver;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * Holds a volume still while the controller copies its device for a snapshot or a clone. The
 * node service knows where a volume is staged, so it implements this; the controller only asks.
 * Both run in one process on the node, and the wiring connects them; a controller without a node
 * service in its process uses {@link #none()}.
 *
 * <p>The caller holds the volume's lock ({@link VolumeLocks}) for as long as it holds the volume
 * still, so no stage, unstage or publish of the volume runs meanwhile.
 */
public interface FilesystemFreezer {

    /** How the volume is held still. */
    enum Hold {
        /** Neither staged nor published on this node: the caller opens the device exclusively, so nothing can mount it. */
        NOT_IN_USE,
        /** Its filesystem is mounted at the staging path and frozen (FIFREEZE) until the hold is closed. */
        FROZEN,
        /** A raw block volume in use by a pod: it cannot be frozen and is copied as it is. */
        RAW_BLOCK_IN_USE
    }

    /** A volume held still; closing releases it (thaws a frozen filesystem), and closing again does nothing. */
    interface Held extends AutoCloseable {
        Hold hold();

        /** The frozen mount point, when {@link #hold()} is {@link Hold#FROZEN}. */
        Optional<Path> mountPoint();

        /**
         * Fails when the freeze did not last: the time limit passed and the filesystem was thawed
         * while the copy ran, so the copy is not consistent.
         */
        void requireStill() throws FreezeExpiredException;

        @Override
        void close() throws IOException;
    }

    /**
     * Holds volume {@code volumeId} still for at most {@code limit}: a frozen filesystem is thawed
     * when the limit passes, whatever the caller does.
     *
     * @throws PreconditionFailedException the filesystem cannot be frozen (another freeze holds it)
     */
    Held hold(String volumeId, Duration limit) throws IOException, PreconditionFailedException;

    /** For a controller without a node service in its process: every volume counts as not in use. */
    static FilesystemFreezer none() {
        return (volumeId, limit) -> new Held() {
            @Override
            public Hold hold() {
                return Hold.NOT_IN_USE;
            }

            @Override
            public Optional<Path> mountPoint() {
                return Optional.empty();
            }

            @Override
            public void requireStill() {
                // nothing is frozen, so nothing can thaw early
            }

            @Override
            public void close() {
                // nothing to release
            }
        };
    }
}
