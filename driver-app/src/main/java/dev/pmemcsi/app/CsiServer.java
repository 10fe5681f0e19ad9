package dev.pmemcsi.app;

import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gRPC server on a Unix socket (what kubelet and the sidecars use) or on TCP (tests that reach
 * a driver inside a VM).
 *
 * <p>The socket is bound inside a fresh directory only root can enter, given mode 0660 there, and
 * then renamed into place: at no moment can anyone outside the group connect to it.
 */
public final class CsiServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(CsiServer.class);

    private final Endpoint endpoint;
    private final Server server;
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final ExecutorService executor;
    private final SocketGuard guard;

    private CsiServer(Endpoint endpoint, Server server, EventLoopGroup boss, EventLoopGroup workers,
                      ExecutorService executor, SocketGuard guard) {
        this.endpoint = endpoint;
        this.server = server;
        this.boss = boss;
        this.workers = workers;
        this.executor = executor;
        this.guard = guard;
    }

    public static CsiServer start(Endpoint endpoint, List<BindableService> services,
                                  List<ServerInterceptor> interceptors, int maxThreads) throws IOException {
        EventLoopGroup boss = new EpollEventLoopGroup(1, named("grpc-boss"));
        EventLoopGroup workers = new EpollEventLoopGroup(1, named("grpc-io"));
        // RPCs block on mkfs, mount and erase: a bounded pool of plain threads, grown only when no
        // thread is idle and shrunk when idle, keeps the footprint small.
        ThreadPoolExecutor executor = CallPool.create(maxThreads, 30, named("csi-rpc"));
        SocketGuard guard = null;
        Path tmpDir = null;
        Server server = null;
        try {
            NettyServerBuilder builder;
            Endpoint.Unix unix = endpoint instanceof Endpoint.Unix u ? u : null;
            if (unix != null) {
                guard = SocketGuard.acquire(unix.path());
                tmpDir = Files.createTempDirectory(unix.path().getParent(), ".bind-",
                        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
                builder = NettyServerBuilder.forAddress(new DomainSocketAddress(
                                tmpDir.resolve(unix.path().getFileName()).toString()))
                        .channelType(EpollServerDomainSocketChannel.class);
            } else {
                builder = NettyServerBuilder.forAddress(((Endpoint.Tcp) endpoint).address())
                        .channelType(EpollServerSocketChannel.class);
            }
            builder.bossEventLoopGroup(boss).workerEventLoopGroup(workers).executor(executor);
            for (BindableService s : services) {
                builder.addService(ServerInterceptors.intercept(s, interceptors));
            }
            server = builder.build().start();
            if (unix != null) {
                Path bound = tmpDir.resolve(unix.path().getFileName());
                Files.setPosixFilePermissions(bound, PosixFilePermissions.fromString("rw-rw----"));
                Files.move(bound, unix.path(), StandardCopyOption.ATOMIC_MOVE);
                Files.delete(tmpDir);
                tmpDir = null;
            }
            LOG.info("serving CSI on {}", endpoint);
            return new CsiServer(endpoint, server, boss, workers, executor, guard);
        } catch (IOException | RuntimeException e) {
            if (server != null) {
                server.shutdownNow();
            }
            if (tmpDir != null) {
                deleteBindDir(tmpDir);
            }
            if (guard != null) {
                guard.close();
            }
            boss.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            workers.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            executor.shutdownNow();
            throw e;
        }
    }

    /** The private bind directory of a start that failed: its socket, then itself. */
    private static void deleteBindDir(Path dir) {
        try (var entries = Files.list(dir)) {
            for (Path p : (Iterable<Path>) entries::iterator) {
                Files.deleteIfExists(p);
            }
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            LOG.warn("cannot remove {}: {}", dir, e.toString());
        }
    }

    public Endpoint endpoint() {
        return endpoint;
    }

    /** The bound TCP port, for tests that listen on port 0. */
    public int port() {
        return server.getPort();
    }

    public boolean isRunning() {
        return !server.isShutdown();
    }

    /**
     * Stops taking new calls, lets in-flight calls finish for up to {@code drain}, then cancels the
     * rest and removes the socket.
     */
    public void shutdown(Duration drain) {
        server.shutdown();
        try {
            if (!server.awaitTermination(drain.toMillis(), TimeUnit.MILLISECONDS)) {
                LOG.warn("in-flight calls did not finish within {} s; cancelling them", drain.toSeconds());
                server.shutdownNow();
                server.awaitTermination(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            server.shutdownNow();
            Thread.currentThread().interrupt();
        } finally {
            executor.shutdownNow();
            boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            workers.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            if (guard != null) {
                guard.close();
            }
        }
        LOG.info("stopped serving on {}", endpoint);
    }

    @Override
    public void close() {
        shutdown(Duration.ZERO);
    }

    private static java.util.concurrent.ThreadFactory named(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
