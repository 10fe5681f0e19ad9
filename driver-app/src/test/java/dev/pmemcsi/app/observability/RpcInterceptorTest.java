package dev.pmemcsi.app.observability;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.csi.v1.DeleteVolumeRequest;
import dev.pmemcsi.csi.v1.ControllerGrpc;
import dev.pmemcsi.csi.v1.CreateVolumeRequest;
import dev.pmemcsi.csi.v1.DeleteVolumeResponse;
import dev.pmemcsi.csi.v1.NodeStageVolumeRequest;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class RpcInterceptorTest {

    private final AtomicBoolean ready = new AtomicBoolean(true);
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private Server server;
    private ManagedChannel channel;
    private ControllerGrpc.ControllerBlockingStub stub;

    /** A controller whose DeleteVolume fails unexpectedly for one volume. */
    static final class Broken extends ControllerGrpc.ControllerImplBase {
        @Override
        public void deleteVolume(DeleteVolumeRequest request, StreamObserver<DeleteVolumeResponse> response) {
            if (request.getVolumeId().equals("boom")) {
                throw new IllegalStateException("secret internal detail at line 42");
            }
            response.onNext(DeleteVolumeResponse.getDefaultInstance());
            response.onCompleted();
        }
    }

    @BeforeEach
    void start() throws Exception {
        String name = InProcessServerBuilder.generateName();
        server = InProcessServerBuilder.forName(name).directExecutor()
                .addService(ServerInterceptors.intercept(new Broken(), new RpcInterceptor(registry, "pmem-csi.dev", ready::get)))
                .build().start();
        channel = InProcessChannelBuilder.forName(name).directExecutor().build();
        stub = ControllerGrpc.newBlockingStub(channel);
    }

    @AfterEach
    void stop() {
        channel.shutdownNow();
        server.shutdownNow();
    }

    @Test
    void unexpectedExceptionsBecomeInternalWithoutStackTrace() {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> stub.deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId("boom").build()));
        assertEquals(Status.Code.INTERNAL, e.getStatus().getCode());
        String d = e.getStatus().getDescription();
        assertTrue(d.contains("DeleteVolume"), d);
        assertFalse(d.contains("\tat "), d);
        assertFalse(d.contains("RpcInterceptorTest"), d);
    }

    @Test
    void callsBeforeTheDeviceLayerIsReadyAreUnavailable() {
        ready.set(false);
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> stub.deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId("v").build()));
        assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    }

    /** The labels and buckets of csi-lib-utils, which CSI dashboards query for drivers and sidecars alike. */
    @Test
    void everyCallIsCountedWithTheLabelsCsiDashboardsUse() {
        stub.deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId("v").build());
        assertThrows(StatusRuntimeException.class, () -> stub.createVolume(CreateVolumeRequest.getDefaultInstance()));
        Timer deleted = registry.get("csi_plugin_operations_seconds").tag("driver_name", "pmem-csi.dev")
                .tag("method_name", "/csi.v1.Controller/DeleteVolume").tag("grpc_status_code", "OK").timer();
        assertEquals(1, deleted.count());
        assertEquals(Set.of("driver_name", "method_name", "grpc_status_code"),
                deleted.getId().getTags().stream().map(Tag::getKey).collect(Collectors.toSet()));
        assertEquals(1, registry.get("csi_plugin_operations_seconds").tag("method_name", "/csi.v1.Controller/CreateVolume")
                .tag("grpc_status_code", "Unimplemented").timer().count());
        double[] buckets = Arrays.stream(deleted.takeSnapshot().histogramCounts()).mapToDouble(c -> c.bucket(TimeUnit.SECONDS)).toArray();
        assertArrayEquals(new double[] {.1, .25, .5, 1, 2.5, 5, 10, 15, 25, 50, 120, 300, 600}, buckets);
        assertEquals(0, registry.get("csi_plugin_operations_in_flight").gauge().value());
    }

    /** A call without a deadline waits for start-up at most as long as the interceptor was told. */
    @Test
    void aCallWithoutDeadlineWaitsForStartupOnlySoLong() {
        String name = InProcessServerBuilder.generateName();
        RpcInterceptor starting = RpcInterceptor.starting(new SimpleMeterRegistry(), "pmem-csi.dev", () -> false, Duration.ofMillis(300));
        Server slow = null;
        ManagedChannel ch = null;
        try {
            slow = InProcessServerBuilder.forName(name).directExecutor()
                    .addService(ServerInterceptors.intercept(new Broken(), starting)).build().start();
            ch = InProcessChannelBuilder.forName(name).directExecutor().build();
            ControllerGrpc.ControllerBlockingStub noDeadline = ControllerGrpc.newBlockingStub(ch);
            long t0 = System.nanoTime();
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                    () -> noDeadline.deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId("v").build()));
            long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
            assertEquals("the device layer did not finish starting within 300 ms; retry later", e.getStatus().getDescription());
            assertTrue(waited >= 250 && waited < 5000, "waited " + waited + " ms");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        } finally {
            if (ch != null) {
                ch.shutdownNow();
            }
            if (slow != null) {
                slow.shutdownNow();
            }
        }
    }

    @Test
    void statusCodesAreSpelledAsGoSpellsThem() {
        assertEquals("OK", RpcInterceptor.goCodeName(Status.Code.OK));
        assertEquals("InvalidArgument", RpcInterceptor.goCodeName(Status.Code.INVALID_ARGUMENT));
        assertEquals("ResourceExhausted", RpcInterceptor.goCodeName(Status.Code.RESOURCE_EXHAUSTED));
        assertEquals("Canceled", RpcInterceptor.goCodeName(Status.Code.CANCELLED));
        assertEquals("DeadlineExceeded", RpcInterceptor.goCodeName(Status.Code.DEADLINE_EXCEEDED));
    }

    @Test
    void volumeOfRequests() {
        assertEquals("v1", RpcInterceptor.volumeOf(NodeStageVolumeRequest.newBuilder().setVolumeId("v1").build()));
        assertEquals("pvc-1", RpcInterceptor.volumeOf(CreateVolumeRequest.newBuilder().setName("pvc-1").build()));
        assertEquals("", RpcInterceptor.volumeOf(DeleteVolumeRequest.getDefaultInstance()));
    }

    @Test
    void longDescriptionsAreBoundedButKeepTheirCode() {
        Status s = RpcInterceptor.bounded(Status.NOT_FOUND.withDescription("volume " + "x".repeat(20_000)));
        assertEquals(Status.Code.NOT_FOUND, s.getCode());
        assertTrue(s.getDescription().length() < RpcInterceptor.MAX_DESCRIPTION + 64, s.getDescription());
        assertTrue(s.getDescription().startsWith("volume xxx"));
        Status small = Status.ABORTED.withDescription("short");
        assertEquals(small, RpcInterceptor.bounded(small));
    }
}
