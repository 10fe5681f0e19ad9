package dev.pmemcsi.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.app.client.Channels;
import dev.pmemcsi.app.observability.RpcInterceptor;
import dev.pmemcsi.csi.v1.GetPluginInfoRequest;
import dev.pmemcsi.csi.v1.IdentityGrpc;
import dev.pmemcsi.csi.v1.ProbeRequest;
import dev.pmemcsi.csi.v1.ProbeResponse;
import dev.pmemcsi.driver.DriverConfig;
import io.grpc.BindableService;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The gRPC server over a real Unix socket. */
class CsiServerIT {

    private static final DriverConfig CONFIG = new DriverConfig("pmem-csi.dev", "test", "node-a", 0);

    @TempDir
    Path dir;

    private static CsiServer start(Path socket, BindableService service) throws IOException {
        return CsiServer.start(new Endpoint.Unix(socket), List.of(service),
                List.of(new RpcInterceptor(new SimpleMeterRegistry(), "pmem-csi.dev", () -> true)), 4);
    }

    private static IdentityService identity() {
        return new IdentityService(CONFIG, true, () -> true);
    }

    @Test
    void socketHasMode0660AndAnswers() throws Exception {
        Path sock = dir.resolve("csi.sock");
        try (CsiServer server = start(sock, identity()); Channels ch = Channels.open("unix://" + sock)) {
            assertEquals("rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(sock)));
            assertEquals("pmem-csi.dev", IdentityGrpc.newBlockingStub(ch.channel())
                    .getPluginInfo(GetPluginInfoRequest.getDefaultInstance()).getName());
            try (var files = Files.list(dir)) {
                assertTrue(files.noneMatch(p -> p.getFileName().toString().startsWith(".bind-")),
                        "the private bind directory is gone");
            }
        }
        assertFalse(Files.exists(sock), "closing removes the socket");
    }

    @Test
    void staleSocketIsReplaced() throws Exception {
        Path sock = dir.resolve("csi.sock");
        // A socket file nobody listens on, as a crash leaves it.
        try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            dead.bind(UnixDomainSocketAddress.of(sock));
        }
        assertTrue(Files.exists(sock));
        try (CsiServer server = start(sock, identity()); Channels ch = Channels.open("unix://" + sock)) {
            assertTrue(IdentityGrpc.newBlockingStub(ch.channel()).probe(ProbeRequest.getDefaultInstance())
                    .getReady().getValue());
        }
    }

    @Test
    void secondLiveInstanceIsRefused() throws Exception {
        Path sock = dir.resolve("csi.sock");
        try (CsiServer first = start(sock, identity())) {
            IOException e = assertThrows(IOException.class, () -> start(sock, identity()));
            assertTrue(e.getMessage().contains("another driver instance"), e.getMessage());
            try (Channels ch = Channels.open("unix://" + sock)) {
                assertEquals("pmem-csi.dev", IdentityGrpc.newBlockingStub(ch.channel())
                        .getPluginInfo(GetPluginInfoRequest.getDefaultInstance()).getName(), "the first still serves");
            }
        }
    }

    @Test
    void aForeignListenerOnThePathIsNotRemoved() throws Exception {
        Path sock = dir.resolve("csi.sock");
        try (ServerSocketChannel other = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            other.bind(UnixDomainSocketAddress.of(sock));
            IOException e = assertThrows(IOException.class, () -> start(sock, identity()));
            assertTrue(e.getMessage().contains("another process is listening"), e.getMessage());
            assertTrue(Files.exists(sock));
        }
    }

    @Test
    void aRegularFileIsNeverReplaced() throws Exception {
        Path sock = dir.resolve("csi.sock");
        Files.writeString(sock, "precious");
        IOException e = assertThrows(IOException.class, () -> start(sock, identity()));
        assertTrue(e.getMessage().contains("not a socket"), e.getMessage());
        assertEquals("precious", Files.readString(sock));
    }

    @Test
    void shutdownDrainsInFlightCallsThenRemovesTheSocket() throws Exception {
        Path sock = dir.resolve("csi.sock");
        // Probe takes a second here, like a slow device check.
        CountDownLatch started = new CountDownLatch(1);
        IdentityService slow = new IdentityService(CONFIG, true, () -> {
            started.countDown();
            try {
                Thread.sleep(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return true;
        });
        CsiServer server = start(sock, slow);
        try (Channels ch = Channels.open("unix://" + sock)) {
            CompletableFuture<ProbeResponse> inFlight = CompletableFuture.supplyAsync(
                    () -> IdentityGrpc.newBlockingStub(ch.channel()).probe(ProbeRequest.getDefaultInstance()));
            assertTrue(started.await(10, TimeUnit.SECONDS), "the call reached the service");
            long t0 = System.nanoTime();
            server.shutdown(Duration.ofSeconds(10));
            assertTrue(inFlight.get(5, TimeUnit.SECONDS).getReady().getValue(), "the in-flight call completed");
            assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5), "drain is bounded by the call");
        }
        assertFalse(Files.exists(sock));
    }

    @Test
    void drainIsBounded() throws Exception {
        Path sock = dir.resolve("csi.sock");
        CountDownLatch started = new CountDownLatch(1);
        IdentityService stuck = new IdentityService(CONFIG, true, () -> {
            started.countDown();
            try {
                Thread.sleep(30_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return true;
        });
        CsiServer server = start(sock, stuck);
        try (Channels ch = Channels.open("unix://" + sock)) {
            CompletableFuture.runAsync(() -> {
                try {
                    IdentityGrpc.newBlockingStub(ch.channel()).probe(ProbeRequest.getDefaultInstance());
                } catch (RuntimeException expected) {
                    // cancelled by the bounded drain
                }
            });
            assertTrue(started.await(10, TimeUnit.SECONDS), "the call reached the service");
            long t0 = System.nanoTime();
            server.shutdown(Duration.ofMillis(500));
            assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(10), "shutdown did not wait for the stuck call");
        }
        assertFalse(Files.exists(sock));
    }
}
