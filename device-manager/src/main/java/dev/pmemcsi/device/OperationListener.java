package dev.pmemcsi.device;

/**
 * Observes the slow steps behind a volume, for metrics and progress logs: every backend reports
 * its own creates, deletes and erases, the node service its mkfs and mounts. It lives here, next to {@link DeviceManager},
 * because both the backends and the node service depend on this module and on nothing above it.
 *
 * <p>Implementations must be thread-safe and must not throw; they run on the caller's thread,
 * inside the operation, so they must also be quick.
 */
public interface OperationListener {

    /** Observes nothing. */
    OperationListener NONE = (kind, subject) -> failure -> { };

    /** The operations that are timed. */
    enum Kind {
        CREATE, DELETE, ERASE, MKFS, MOUNT,
        /** Copying a volume's device into a snapshot image. */
        SNAPSHOT,
        /** Copying a snapshot image onto a new volume's device. */
        RESTORE,
        /** Copying one volume's device onto a new volume's device. */
        CLONE;

        /** The metric label value, e.g. {@code erase}. */
        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * Called when an operation begins.
     *
     * @param subject what it works on, for logs, e.g. {@code volume pvc-1 on /dev/pmem0}
     * @return told once when the operation ends
     */
    Running started(Kind kind, String subject);

    /** An operation under way. */
    @FunctionalInterface
    interface Running {
        /** @param failure why it failed, or null when it succeeded */
        void finished(Throwable failure);
    }
    /** A step that is timed; it may fail with a checked exception of its own kind. */
    @FunctionalInterface
    interface Step<T, E extends Exception> {
        T run() throws E;
    }

    /**
     * Runs {@code step} between {@link #started} and {@link Running#finished}: the one way an
     * operation is observed, so that every kind reports its failures alike.
     */
    default <T, E extends Exception> T timed(Kind kind, String subject, Step<T, E> step) throws E {
        Running op = started(kind, subject);
        try {
            T result = step.run();
            op.finished(null);
            return result;
        } catch (Throwable t) {
            op.finished(t);
            throw t;
        }
    }
}
