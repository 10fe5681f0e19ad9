package dev.pmemcsi.app;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes a Unix socket path safe to bind: one live instance per path, enforced by a lock file held
 * for the life of the process, and a stale socket left by a crash is removed. A live instance is
 * never disturbed, and a path that is not a socket is never deleted.
 */
final class SocketGuard implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(SocketGuard.class);

    private final Path socket;
    private final FileChannel lockChannel;
    private final FileLock lock;

    private SocketGuard(Path socket, FileChannel lockChannel, FileLock lock) {
        this.socket = socket;
        this.lockChannel = lockChannel;
        this.lock = lock;
    }

    static SocketGuard acquire(Path socket) throws IOException {
        Path dir = socket.getParent();
        Files.createDirectories(dir);
        Path lockPath = dir.resolve("." + socket.getFileName() + ".lock");
        FileChannel ch = FileChannel.open(lockPath, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = ch.tryLock();
        } catch (java.nio.channels.OverlappingFileLockException e) {
            lock = null; // held by this very process: a second server in one JVM
        } catch (IOException e) {
            ch.close();
            throw e;
        }
        if (lock == null) {
            ch.close();
            throw new IOException("another driver instance is serving " + socket + " (it holds " + lockPath + ")");
        }
        SocketGuard guard = new SocketGuard(socket, ch, lock);
        try {
            guard.removeStale();
        } catch (IOException e) {
            guard.releaseLock(); // the path belongs to someone else: leave it alone
            throw e;
        }
        return guard;
    }

    private void removeStale() throws IOException {
        if (!Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        BasicFileAttributes attrs = Files.readAttributes(socket, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (!attrs.isOther()) {
            throw new IOException(socket + " exists and is not a socket; refusing to replace it");
        }
        if (answers(socket)) {
            throw new IOException("another process is listening on " + socket);
        }
        LOG.info("removing stale socket {} left by an earlier run", socket);
        Files.delete(socket);
    }

    private static boolean answers(Path socket) {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    Path socket() {
        return socket;
    }

    /** Removes our socket and releases the path for the next instance. */
    @Override
    public void close() {
        try {
            Files.deleteIfExists(socket);
        } catch (IOException e) {
            LOG.warn("cannot remove socket {}: {}", socket, e.toString());
        }
        releaseLock();
    }

    private void releaseLock() {
        try {
            lock.release();
            lockChannel.close();
        } catch (IOException e) {
            LOG.warn("cannot release the socket lock: {}", e.toString());
        }
    }
}
