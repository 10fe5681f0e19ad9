package dev.pmemcsi.app.observability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.pmemcsi.controller.ControllerService;
import dev.pmemcsi.csi.v1.ControllerGrpc;
import dev.pmemcsi.csi.v1.CreateVolumeRequest;
import dev.pmemcsi.csi.v1.DeleteVolumeRequest;
import dev.pmemcsi.csi.v1.DeleteVolumeResponse;
import dev.pmemcsi.csi.v1.ListVolumesRequest;
import dev.pmemcsi.csi.v1.ListVolumesResponse;
import dev.pmemcsi.device.InMemoryDeviceManager;
import dev.pmemcsi.driver.DriverConfig;
import dev.pmemcsi.driver.RpcEdge;
import dev.pmemcsi.driver.VolumeLocks;
import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** What the log holds for one call: one line, from the interceptor, with a stack trace only for the unexpected. */
class RpcLogTest {

    private final ListAppender<ILoggingEvent> logged = new ListAppender<>();
    private final Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    private final InMemoryDeviceManager devices = new InMemoryDeviceManager(new long[] {1L << 30});
    private Level rootLevel;
    private Server server;
    private ManagedChannel channel;

    /** A controller whose calls fail unexpectedly: by throwing, and through the RPC edge. */
    static final class Failing extends ControllerGrpc.ControllerImplBase {
        @Override
        public void deleteVolume(DeleteVolumeRequest request, StreamObserver<DeleteVolumeResponse> response) {
            throw new IllegalStateException("thrown past the service");
        }

        @Override
        public void listVolumes(ListVolumesRequest request, StreamObserver<ListVolumesResponse> response) {
            RpcEdge.answer(response, () -> {
                throw new IllegalStateException("caught by the edge");
            });
        }
    }

    @BeforeEach
    void capture() {
        rootLevel = root.getLevel();
        root.setLevel(Level.INFO);
        logged.start();
        root.addAppender(logged);
        devices.start();
    }

    @AfterEach
    void release() {
        root.detachAppender(logged);
        root.setLevel(rootLevel);
        if (channel != null) {
            channel.shutdownNow();
        }
        if (server != null) {
            server.shutdownNow();
        }
        devices.close();
    }

    private ControllerGrpc.ControllerBlockingStub serve(BindableService service) throws Exception {
        String name = InProcessServerBuilder.generateName();
        server = InProcessServerBuilder.forName(name).directExecutor()
                .addService(ServerInterceptors.intercept(service,
                        new RpcInterceptor(new SimpleMeterRegistry(), "pmem-csi.dev", () -> true)))
                .build().start();
        channel = InProcessChannelBuilder.forName(name).directExecutor().build();
        return ControllerGrpc.newBlockingStub(channel);
    }

    private ControllerGrpc.ControllerBlockingStub controller() throws Exception {
        return serve(new ControllerService(new DriverConfig("pmem-csi.dev", "test", "node-a", 0), devices,
                new VolumeLocks(), id -> Optional.empty()));
    }

    private List<ILoggingEvent> linesAbout(String text) {
        return logged.list.stream().filter(e -> e.getFormattedMessage().contains(text)).toList();
    }

    @Test
    void aRefusedCallIsLoggedOnceAsAWarningWithItsCodeAndNoStackTrace() throws Exception {
        var stub = controller();
        Status s = assertThrows(StatusRuntimeException.class,
                () -> stub.createVolume(CreateVolumeRequest.newBuilder().setName("").build())).getStatus();
        assertEquals(Status.Code.INVALID_ARGUMENT, s.getCode());
        List<ILoggingEvent> lines = linesAbout("name must not be empty");
        assertEquals(1, lines.size(), lines.toString());
        ILoggingEvent line = lines.get(0);
        assertEquals("dev.pmemcsi.rpc", line.getLoggerName());
        assertEquals(Level.WARN, line.getLevel());
        assertEquals("CreateVolume INVALID_ARGUMENT: name must not be empty", line.getFormattedMessage());
        assertNull(line.getThrowableProxy());
    }

    @Test
    void anUnexpectedFailureAnsweredByTheEdgeIsLoggedOnceAsAnErrorWithItsStackTrace() throws Exception {
        var stub = serve(new Failing());
        Status s = assertThrows(StatusRuntimeException.class,
                () -> stub.listVolumes(ListVolumesRequest.getDefaultInstance())).getStatus();
        assertEquals(Status.Code.INTERNAL, s.getCode());
        assertNull(s.getCause(), "the cause stays on the server");
        List<ILoggingEvent> lines = linesAbout("ListVolumes");
        assertEquals(1, lines.size(), lines.toString());
        ILoggingEvent line = lines.get(0);
        assertEquals("dev.pmemcsi.rpc", line.getLoggerName());
        assertEquals(Level.ERROR, line.getLevel());
        assertTrue(line.getFormattedMessage().startsWith("ListVolumes INTERNAL: "), line.getFormattedMessage());
        assertNotNull(line.getThrowableProxy(), "the stack trace is in the log");
        assertEquals("caught by the edge", line.getThrowableProxy().getMessage());
        assertEquals("INTERNAL", line.getMDCPropertyMap().get("code"));
    }

    @Test
    void anExceptionThrownPastTheServiceIsLoggedOnceAsAnErrorWithItsStackTrace() throws Exception {
        var stub = serve(new Failing());
        Status s = assertThrows(StatusRuntimeException.class,
                () -> stub.deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId("v1").build())).getStatus();
        assertEquals(Status.Code.INTERNAL, s.getCode());
        List<ILoggingEvent> lines = linesAbout("DeleteVolume");
        assertEquals(1, lines.size(), lines.toString());
        ILoggingEvent line = lines.get(0);
        assertEquals(Level.ERROR, line.getLevel());
        assertNotNull(line.getThrowableProxy());
        assertEquals("thrown past the service", line.getThrowableProxy().getMessage());
        assertEquals("v1", line.getMDCPropertyMap().get("volume"));
        assertEquals("INTERNAL", line.getMDCPropertyMap().get("code"));
    }
}
