package dev.pmemcsi.app;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One driver per state dir. Two drivers over the same records would each act on the other's
 * stagings and publications (and on ndctl, on the same namespaces), whatever socket each serves.
 * The lock is an fcntl lock on {@code driver.lock} inside the state dir, so the kernel drops it
 * when the process ends in any way, {@code kill -9} included, and a restart never finds it stale.
 */
final class StateDirLock implements AutoCloseable {

    static final String FILE = "driver.lock";

    private final FileChannel channel;
    private final FileLock lock;

    private StateDirLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Takes the lock, or refuses at once when another live process holds it; the caller must then
     * touch nothing. The file holds the holder's PID, for the operator.
     */
    static StateDirLock acquire(Path stateDir) throws StartupException {
        Path path = stateDir.resolve(FILE);
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE,
                    LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            throw new StartupException("cannot open the state dir lock " + path + ": " + e.getMessage(), e);
        }
        try {
            FileLock lock;
            try {
                lock = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null; // this very process holds it
            }
            if (lock == null) {
                String holder = holder(ch);
                ch.close();
                throw new StartupException("state dir " + stateDir + " is in use by another driver" + holder
                        + "; only one driver may run per state dir");
            }
            ch.truncate(0);
            ch.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
            return new StateDirLock(ch, lock);
        } catch (IOException e) {
            closeQuietly(ch);
            throw new StartupException("cannot lock the state dir " + stateDir + ": " + e.getMessage(), e);
        }
    }

    private static String holder(FileChannel ch) {
        try {
            ByteBuffer buf = ByteBuffer.allocate(32);
            int n = ch.read(buf, 0);
            String pid = n <= 0 ? "" : new String(buf.array(), 0, n, StandardCharsets.US_ASCII).strip();
            return pid.matches("\\d+") ? " (PID " + pid + ")" : "";
        } catch (IOException e) {
            return "";
        }
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // the lock attempt already failed; that error is the one to report
        }
    }

    /** Releases the lock; the file stays, for the next driver to lock again. */
    @Override
    public void close() {
        try {
            lock.release();
        } catch (IOException ignored) {
            // closing the channel below releases it as well
        }
        closeQuietly(channel);
    }
}
