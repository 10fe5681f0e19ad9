package dev.pmemcsi.app.observability;

import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.ForwardingServerCallListener.SimpleForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * The one interceptor every RPC passes, and the one place that logs a call: it puts the method and
 * volume into the MDC for everything the call logs; ends the call with one line carrying its gRPC
 * code and duration (with the stack trace when it failed unexpectedly); records the operations
 * histogram; turns an exception thrown past the service into INTERNAL with a short message (the
 * stack trace goes to the log, never to the client); and passes calls on volumes through the
 * {@link StartupGate}.
 *
 * <p>Calls that only describe the driver (Identity, the capabilities, NodeGetInfo) are never held
 * up; calls on volumes wait during start-up, up to their deadline or {@link #DEFAULT_STARTUP_WAIT}
 * without one.
 */
public final class RpcInterceptor implements ServerInterceptor {

    private static final Logger LOG = LoggerFactory.getLogger("dev.pmemcsi.rpc");

    static final String MDC_METHOD = "method";
    static final String MDC_VOLUME = "volume";
    static final String MDC_CODE = "code";
    static final String MDC_DURATION = "duration_ms";

    /** How long a call without a deadline waits for start-up. */
    public static final Duration DEFAULT_STARTUP_WAIT = Duration.ofSeconds(30);

    /**
     * Calls outside the Identity service that kubelet and the sidecars make to learn what the
     * driver is; they read no volume, so start-up does not hold them up.
     */
    private static final Set<String> DESCRIBING = Set.of("ControllerGetCapabilities", "NodeGetCapabilities",
            "NodeGetInfo");

    /**
     * The buckets of csi-lib-utils, which the sidecars' {@code csi_sidecar_operations_seconds} and
     * other drivers' {@code csi_plugin_operations_seconds} use, so that one dashboard compares them.
     */
    static final Duration[] BUCKETS = Stream.of(100, 250, 500, 1_000, 2_500, 5_000, 10_000, 15_000, 25_000, 50_000,
            120_000, 300_000, 600_000).map(Duration::ofMillis).toArray(Duration[]::new);

    private final MeterRegistry registry;
    private final String driverName;
    private final StartupGate gate;
    private final AtomicInteger inFlight = new AtomicInteger();

    /** An interceptor for a driver that has already started; {@code ready} is checked on every call. */
    public RpcInterceptor(MeterRegistry registry, String driverName, BooleanSupplier ready) {
        this(registry, driverName, new StartupGate(ready, DEFAULT_STARTUP_WAIT));
        gate.started();
    }

    /** @param driverName the {@code driver_name} label of the operations histogram */
    private RpcInterceptor(MeterRegistry registry, String driverName, StartupGate gate) {
        this.registry = registry;
        this.driverName = driverName;
        this.gate = gate;
        registry.gauge("csi_plugin_operations_in_flight", inFlight);
    }

    /**
     * An interceptor for a driver that is about to start: calls on volumes wait until
     * {@link #started()} or {@link #startFailed(String)}, those without a deadline at most
     * {@code startupWait}.
     */
    public static RpcInterceptor starting(MeterRegistry registry, String driverName, BooleanSupplier ready,
                                          Duration startupWait) {
        return new RpcInterceptor(registry, driverName, new StartupGate(ready, startupWait));
    }

    /** Start-up is over: waiting calls go through. */
    public void started() {
        gate.started();
    }

    /** Start-up failed (or the driver stops before it ended): waiting and later calls get UNAVAILABLE. */
    public void startFailed(String reason) {
        gate.startFailed(reason);
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                       ServerCallHandler<Q, R> next) {
        String method = call.getMethodDescriptor().getBareMethodName();
        String service = call.getMethodDescriptor().getServiceName();
        String fullMethod = "/" + call.getMethodDescriptor().getFullMethodName();
        long start = System.nanoTime();
        inFlight.incrementAndGet();
        String[] volume = {""};
        ServerCall<Q, R> observed = new SimpleForwardingServerCall<>(call) {
            private boolean closed;

            @Override
            public void close(Status status, Metadata trailers) {
                Status bounded = bounded(status);
                if (!closed) {
                    closed = true;
                    finish(method, fullMethod, volume[0], bounded, start);
                }
                super.close(bounded, trailers);
            }
        };
        if (!"csi.v1.Identity".equals(service) && !DESCRIBING.contains(method)) {
            return gate.admit(observed, () -> startCall(observed, headers, next, method, volume));
        }
        return startCall(observed, headers, next, method, volume);
    }

    private static <Q, R> ServerCall.Listener<Q> startCall(ServerCall<Q, R> observed, Metadata headers,
                                                           ServerCallHandler<Q, R> next, String method,
                                                           String[] volume) {
        ServerCall.Listener<Q> delegate;
        try {
            delegate = next.startCall(observed, headers);
        } catch (RuntimeException e) {
            failInternal(observed, method, e);
            return new ServerCall.Listener<>() {};
        }
        return new SimpleForwardingServerCallListener<>(delegate) {
            @Override
            public void onMessage(Q message) {
                volume[0] = volumeOf(message);
                withMdc(method, volume[0], () -> super.onMessage(message));
            }

            @Override
            public void onHalfClose() {
                try {
                    withMdc(method, volume[0], super::onHalfClose);
                } catch (RuntimeException e) {
                    failInternal(observed, method, e);
                }
            }

            @Override
            public void onCancel() {
                withMdc(method, volume[0], super::onCancel);
            }
        };
    }

    /** Longest status description sent; it travels in a trailer, and clients cap header sizes (8 KiB in grpc-java). */
    static final int MAX_DESCRIPTION = 1024;

    /**
     * Descriptions quote the caller's IDs and paths, which may be arbitrarily long: an unbounded
     * one would push the trailers past the client's limit and turn a precise code into INTERNAL.
     */
    static Status bounded(Status status) {
        String d = status.getDescription();
        if (d == null || d.length() <= MAX_DESCRIPTION) {
            return status;
        }
        return status.withDescription(d.substring(0, MAX_DESCRIPTION) + "… (" + (d.length() - MAX_DESCRIPTION)
                + " more characters)");
    }

    /** The exception goes with the status as its cause, which gRPC keeps from the client, so that {@link #finish} logs it. */
    private static void failInternal(ServerCall<?, ?> call, String method, RuntimeException e) {
        call.close(Status.INTERNAL.withDescription("internal error in " + method + ": " + e.getClass().getSimpleName()
                + (e.getMessage() == null ? "" : ": " + e.getMessage())).withCause(e), new Metadata());
    }

    private void finish(String method, String fullMethod, String volume, Status status, long start) {
        inFlight.decrementAndGet();
        long nanos = System.nanoTime() - start;
        // The labels of csi-lib-utils: the full gRPC method and the status code as Go spells it.
        Timer.builder("csi_plugin_operations_seconds")
                .description("Container Storage Interface operation duration with gRPC error code status")
                .tag("driver_name", driverName)
                .tag("method_name", fullMethod)
                .tag("grpc_status_code", goCodeName(status.getCode()))
                .serviceLevelObjectives(BUCKETS)
                .register(registry)
                .record(Duration.ofNanos(nanos));
        try {
            MDC.put(MDC_METHOD, method);
            if (!volume.isEmpty()) {
                MDC.put(MDC_VOLUME, volume);
            }
            MDC.put(MDC_CODE, status.getCode().name());
            MDC.put(MDC_DURATION, Long.toString(nanos / 1_000_000));
            if (status.isOk()) {
                if (method.equals("Probe") || method.startsWith("Get") || method.endsWith("GetCapabilities")
                        || method.equals("NodeGetInfo") || method.equals("NodeGetVolumeStats")) {
                    LOG.debug("{} OK", method);
                } else {
                    LOG.info("{} OK", method);
                }
            } else if (status.getCode() == Status.Code.INTERNAL && status.getCause() != null) {
                // Unexpected: the stack trace is what lets someone find the fault.
                LOG.error("{} {}: {}", method, status.getCode(), status.getDescription(), status.getCause());
            } else {
                LOG.warn("{} {}: {}", method, status.getCode(), status.getDescription());
            }
        } finally {
            MDC.remove(MDC_METHOD);
            MDC.remove(MDC_VOLUME);
            MDC.remove(MDC_CODE);
            MDC.remove(MDC_DURATION);
        }
    }

    private static void withMdc(String method, String volume, Runnable r) {
        MDC.put(MDC_METHOD, method);
        if (!volume.isEmpty()) {
            MDC.put(MDC_VOLUME, volume);
        }
        try {
            r.run();
        } finally {
            MDC.remove(MDC_METHOD);
            MDC.remove(MDC_VOLUME);
        }
    }

    /** The name Go's {@code codes.Code.String()} gives a status code, e.g. {@code InvalidArgument}. */
    static String goCodeName(Status.Code code) {
        if (code == Status.Code.OK) {
            return "OK";
        }
        if (code == Status.Code.CANCELLED) {
            return "Canceled";
        }
        StringBuilder sb = new StringBuilder();
        for (String word : code.name().split("_")) {
            sb.append(word.charAt(0)).append(word.substring(1).toLowerCase(Locale.ROOT));
        }
        return sb.toString();
    }

    /** The volume a request is about: its volume_id, or the name of a volume being created. */
    static String volumeOf(Object message) {
        if (message instanceof Message m) {
            for (String field : new String[] {"volume_id", "name"}) {
                FieldDescriptor fd = m.getDescriptorForType().findFieldByName(field);
                if (fd != null && fd.getType() == FieldDescriptor.Type.STRING) {
                    String v = (String) m.getField(fd);
                    if (!v.isEmpty()) {
                        return v.length() > 128 ? v.substring(0, 128) + "…" : v;
                    }
                }
            }
        }
        return "";
    }
}
