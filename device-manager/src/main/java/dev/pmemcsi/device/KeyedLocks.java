package dev.pmemcsi.device;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One lock per key (a volume ID, a path), taken either by waiting ({@link #lock}) or not at all
 * ({@link #tryAcquire}). A key's lock exists only while someone holds or waits for it, so the
 * number of keys ever seen does not matter.
 *
 * <p>Not reentrant: a thread that holds a key and asks for it again is refused (or waits forever),
 * as a second operation on one volume must be, whichever thread runs it. A held lock may be
 * released from any thread.
 */
public class KeyedLocks {

    private final Map<String, Entry> entries = new HashMap<>();

    private static final class Entry {
        final Semaphore permit = new Semaphore(1);
        /** Holders and waiters; the entry is dropped when it falls to zero. */
        int users;
    }

    /** A held lock; closing releases it, and closing it again does nothing. */
    public static final class Held implements AutoCloseable {
        private final KeyedLocks owner;
        private final String key;
        private final Entry entry;
        private final AtomicBoolean released = new AtomicBoolean();

        private Held(KeyedLocks owner, String key, Entry entry) {
            this.owner = owner;
            this.key = key;
            this.entry = entry;
        }

        @Override
        public void close() {
            if (released.compareAndSet(false, true)) {
                entry.permit.release();
                owner.leave(key, entry);
            }
        }
    }

    /** Takes the lock for {@code key}, waiting as long as another holder keeps it. */
    public Held lock(String key) {
        Entry e = enter(key);
        e.permit.acquireUninterruptibly();
        return new Held(this, key, e);
    }

    /** Takes the lock for {@code key}, or returns empty at once when it is held. */
    public Optional<Held> tryAcquire(String key) {
        Entry e = enter(key);
        if (e.permit.tryAcquire()) {
            return Optional.of(new Held(this, key, e));
        }
        leave(key, e);
        return Optional.empty();
    }

    public boolean isHeld(String key) {
        synchronized (entries) {
            Entry e = entries.get(key);
            return e != null && e.permit.availablePermits() == 0;
        }
    }

    /** Keys that are held or waited for. */
    public int size() {
        synchronized (entries) {
            return entries.size();
        }
    }

    private Entry enter(String key) {
        synchronized (entries) {
            Entry e = entries.computeIfAbsent(key, k -> new Entry());
            e.users++;
            return e;
        }
    }

    private void leave(String key, Entry e) {
        synchronized (entries) {
            if (--e.users == 0) {
                entries.remove(key);
            }
        }
    }
}
