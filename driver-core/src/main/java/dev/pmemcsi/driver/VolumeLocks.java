package dev.pmemcsi.driver;

import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * At most one operation per volume at a time. CSI asks a plugin to answer a second, concurrent
 * operation on the same volume with ABORTED rather than to queue it: the caller retries later.
 *
 * <p>Keys are volume IDs. CreateVolume locks the ID derived from the name, so it collides with any
 * other operation on that volume.
 */
public final class VolumeLocks {

    private final Set<String> held = ConcurrentHashMap.newKeySet();

    /** A held lock; closing releases it. */
    public final class Held implements AutoCloseable {
        private final String key;
        private boolean released;

        private Held(String key) {
            this.key = key;
        }

        @Override
        public void close() {
            if (!released) {
                released = true;
                held.remove(key);
            }
        }
    }

    /** Takes the lock for {@code key}, or returns empty when another operation holds it. */
    public Optional<Held> tryAcquire(String key) {
        return held.add(key) ? Optional.of(new Held(key)) : Optional.empty();
    }

    public boolean isHeld(String key) {
        return held.contains(key);
    }
}
