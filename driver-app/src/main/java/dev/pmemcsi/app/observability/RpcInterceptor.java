package dev.pmemcsi.app.observability;

import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import io.grpc.Context;
import io.grpc.Contexts;
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
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.Locale;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * The one interceptor every RPC passes: it logs the call with its method, volume, gRPC code and
 * duration; records the operations histogram; turns an unexpected exception into INTERNAL with a
 * short message (the stack trace goes to the log, never to the client); and is the one gate that
 * keeps calls on volumes away from a device layer that is not ready.
 *
 * <p>During start-up (after the socket is bound, while the device layer recovers its volumes),
 * calls that only describe the driver are answered at once, and calls on volumes wait for the
 * device layer, up to their deadline or {@link #DEFAULT_STARTUP_WAIT} without one, and then go
 * through, or get UNAVAILABLE if start-up failed or took too long. A waiting call holds no thread:
 * it is not started (so gRPC reads none of its messages) until start-up ends. Once started, a
 * device layer that stops being ready (the driver is stopping) gets UNAVAILABLE at once.
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
    private final BooleanSupplier ready;
    private final Duration startupWait;
    /** Completes when start-up ends: normally, or exceptionally with the reason it failed. */
    private final CompletableFuture<Void> started = new CompletableFuture<>();
    private final AtomicInteger inFlight = new AtomicInteger();

    /** An interceptor for a driver that has already started; {@code ready} is checked on every call. */
    public RpcInterceptor(MeterRegistry registry, String driverName, BooleanSupplier ready) {
        this(registry, driverName, ready, DEFAULT_STARTUP_WAIT);
        started.complete(null);
    }

    /** @param driverName the {@code driver_name} label of the operations histogram */
    private RpcInterceptor(MeterRegistry registry, String driverName, BooleanSupplier ready, Duration startupWait) {
        this.registry = registry;
        this.driverName = driverName;
        this.ready = ready;
        this.startupWait = startupWait;
        registry.gauge("csi_plugin_operations_in_flight", inFlight);
    }

    /**
     * An interceptor for a driver that is about to start: calls on volumes wait until
     * {@link #started()} or {@link #startFailed(String)}, those without a deadline at most
     * {@code startupWait}.
     */
    public static RpcInterceptor starting(MeterRegistry registry, String driverName, BooleanSupplier ready,
                                          Duration startupWait) {
        return new RpcInterceptor(registry, driverName, ready, startupWait);
    }

    /** Start-up is over: waiting calls go through. */
    public void started() {
        started.complete(null);
    }

    /** Start-up failed (or the driver stops before it ended): waiting and later calls get UNAVAILABLE. */
    public void startFailed(String reason) {
        started.completeExceptionally(new StartupFailure(reason));
    }

    private static final class StartupFailure extends Exception {
        private static final long serialVersionUID = 1L;

        StartupFailure(String reason) {
            super(reason, null, false, false);
        }
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
            if (!started.isDone()) {
                return waitForStartup(observed, headers, next, method, volume);
            }
            Status refusal = refusal(null);
            if (refusal != null) {
                observed.close(refusal, new Metadata());
                return new ServerCall.Listener<>() {};
            }
        }
        return startCall(observed, headers, next, method, volume);
    }

    /**
     * Why a call on volumes cannot go through now, or null if it can.
     *
     * @param waitFailure why waiting for start-up ended other than by a normal start, or null
     */
    private Status refusal(Throwable waitFailure) {
        Throwable failure = waitFailure;
        if (failure == null && started.isCompletedExceptionally()) {
            try {
                started.join();
            } catch (CompletionException e) {
                failure = e;
            }
        }
        if (failure instanceof CompletionException && failure.getCause() != null) {
            failure = failure.getCause();
        }
        if (failure instanceof StartupFailure f) {
            return Status.UNAVAILABLE.withDescription("the driver failed to start: " + f.getMessage());
        }
        if (failure instanceof TimeoutException) {
            long ms = startupWait.toMillis();
            return Status.UNAVAILABLE.withDescription("the device layer did not finish starting within "
                    + (ms % 1000 == 0 ? ms / 1000 + " s" : ms + " ms") + "; retry later");
        }
        if (failure != null) {
            return Status.UNAVAILABLE.withDescription("the device layer is not ready: " + failure);
        }
        return ready.getAsBoolean() ? null : Status.UNAVAILABLE.withDescription("the device layer is not ready; retry shortly");
    }

    /**
     * Holds the call, unstarted, until start-up ends. Its deadline bounds the wait: gRPC cancels
     * the call when it passes. A call without one is bounded by {@link #startupWait}.
     */
    private <Q, R> ServerCall.Listener<Q> waitForStartup(ServerCall<Q, R> call, Metadata headers,
                                                          ServerCallHandler<Q, R> next, String method, String[] volume) {
        Context context = Context.current();
        Waiting<Q, R> waiting = new Waiting<>(call, context, () -> startCall(call, headers, next, method, volume));
        CompletableFuture<Void> bound = started.copy();
        if (context.getDeadline() == null) {
            bound = bound.orTimeout(startupWait.toMillis(), TimeUnit.MILLISECONDS);
        }
        bound.whenComplete((ok, failure) -> waiting.release(failure));
        return waiting;
    }

    /**
     * A call that waits for start-up. It has not been started, so gRPC delivers none of its
     * messages (nothing requested them) and only a cancellation can arrive; once started, every
     * event goes to the real listener.
     */
    private final class Waiting<Q, R> extends ServerCall.Listener<Q> {
        private final ServerCall<Q, R> call;
        private final Context context;
        private final Supplier<ServerCall.Listener<Q>> start;
        private ServerCall.Listener<Q> delegate; // guarded by this
        private boolean over; // guarded by this: cancelled by the client, or refused here

        Waiting(ServerCall<Q, R> call, Context context, Supplier<ServerCall.Listener<Q>> start) {
            this.call = call;
            this.context = context;
            this.start = start;
        }

        /**
         * Runs on the thread that ended start-up (or the timer's). Starting a unary call only asks
         * gRPC for its request, which gRPC then delivers on its own executor; the lock makes that
         * delivery wait until {@link #delegate} is set.
         */
        synchronized void release(Throwable failure) {
            if (over) {
                return;
            }
            Status refusal = refusal(failure);
            if (refusal != null) {
                over = true;
                call.close(refusal, new Metadata());
                return;
            }
            Context previous = context.attach();
            try {
                delegate = start.get();
            } finally {
                context.detach(previous);
            }
        }

        private synchronized ServerCall.Listener<Q> delegate() {
            return delegate;
        }

        @Override
        public void onMessage(Q message) {
            ServerCall.Listener<Q> d = delegate();
            if (d != null) {
                d.onMessage(message);
            }
        }

        @Override
        public void onHalfClose() {
            ServerCall.Listener<Q> d = delegate();
            if (d != null) {
                d.onHalfClose();
            }
        }

        @Override
        public void onComplete() {
            ServerCall.Listener<Q> d = delegate();
            if (d != null) {
                d.onComplete();
            }
        }

        @Override
        public void onReady() {
            ServerCall.Listener<Q> d = delegate();
            if (d != null) {
                d.onReady();
            }
        }

        @Override
        public void onCancel() {
            ServerCall.Listener<Q> d;
            synchronized (this) {
                d = delegate;
                if (d == null) {
                    if (over) {
                        return;
                    }
                    over = true;
                    // Closing records the call in the metrics and the log; the client is gone.
                    Status why = Contexts.statusFromCancelled(context);
                    call.close((why != null ? why : Status.CANCELLED)
                            .withDescription("cancelled while waiting for the device layer to start"), new Metadata());
                    return;
                }
            }
            d.onCancel();
        }
    }

    private <Q, R> ServerCall.Listener<Q> startCall(ServerCall<Q, R> observed, Metadata headers,
                                                    ServerCallHandler<Q, R> next, String method, String[] volume) {
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

    private void failInternal(ServerCall<?, ?> call, String method, RuntimeException e) {
        LOG.error("{} failed unexpectedly", method, e);
        call.close(Status.INTERNAL.withDescription("internal error in " + method + ": " + e.getClass().getSimpleName()
                + (e.getMessage() == null ? "" : ": " + e.getMessage())), new Metadata());
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
