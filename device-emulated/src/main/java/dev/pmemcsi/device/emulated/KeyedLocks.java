package dev.pmemcsi.device.emulated;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/** One lock per volume ID, dropped when nobody holds or waits for it. */
final class KeyedLocks {

    private final Map<String, Entry> locks = new HashMap<>();

    private static final class Entry {
        final ReentrantLock lock = new ReentrantLock();
        int users;
    }

    /** A held lock; closing releases it. */
    interface Held extends AutoCloseable {
        @Override
        void close();
    }

    Held lock(String key) {
        Entry e;
        synchronized (locks) {
            e = locks.computeIfAbsent(key, k -> new Entry());
            e.users++;
        }
        e.lock.lock();
        return () -> {
            e.lock.unlock();
            synchronized (locks) {
                if (--e.users == 0) {
                    locks.remove(key);
                }
            }
        };
    }

    int size() {
        synchronized (locks) {
            return locks.size();
        }
    }
}
