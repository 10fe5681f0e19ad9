package dev.pmemcsi.device.emulated;

import dev.pmemcsi.device.DeviceBusyException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The lock file that keeps a second driver instance away from an emulated directory. */
final class DirectoryLock {

    private static final Logger LOG = LoggerFactory.getLogger(DirectoryLock.class);

    private final Path dir;
    private final Path lockFile;
    private FileChannel channel;
    private FileLock lock;

    DirectoryLock(Path dir) {
        this.dir = dir;
        this.lockFile = dir.resolve(EmulatedDeviceManager.LOCK_FILE);
    }

    /** Takes the lock, or keeps it when this instance holds it already. */
    synchronized void acquire() throws IOException, DeviceBusyException {
        if (lock != null) {
            return;
        }
        FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock taken;
        try {
            taken = ch.tryLock();
        } catch (OverlappingFileLockException e) {
            taken = null;
        }
        if (taken == null) {
            ch.close();
            throw new DeviceBusyException("emulated PMEM directory " + dir + " is in use by another driver instance ("
                    + lockFile + " is locked)");
        }
        channel = ch;
        lock = taken;
    }

    synchronized void release() {
        try {
            if (lock != null) {
                lock.release();
            }
            if (channel != null) {
                channel.close();
            }
        } catch (IOException e) {
            LOG.warn("cannot release {}: {}", lockFile, e.toString());
        }
        lock = null;
        channel = null;
    }
}
