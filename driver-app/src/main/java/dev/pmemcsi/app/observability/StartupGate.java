package dev.pmemcsi.app.observability;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.Status;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Keeps calls on volumes away from a device layer that is not ready. During start-up (after the
 * socket is bound, while the device layer recovers its volumes) such a call waits, up to its
 * deadline or the start-up wait without one, and then goes through, or gets UNAVAILABLE if
 * start-up failed or took too long. A waiting call holds no thread: it is not started (so gRPC
 * reads none of its messages) until start-up ends. Once started, a device layer that stops being
 * ready (the driver is stopping) gets UNAVAILABLE at once.
 */
final class StartupGate {

    private final BooleanSupplier ready;
    private final Duration startupWait;
    /** Completes when start-up ends: normally, or exceptionally with the reason it failed. */
    private final CompletableFuture<Void> started = new CompletableFuture<>();

    /**
     * @param ready       whether the device layer serves calls now, asked on every call once started
     * @param startupWait how long a call without a deadline waits for start-up
     */
    StartupGate(BooleanSupplier ready, Duration startupWait) {
        this.ready = ready;
        this.startupWait = startupWait;
    }

    /** Start-up is over: waiting calls go through. */
    void started() {
        started.complete(null);
    }

    /** Start-up failed (or the driver stops before it ended): waiting and later calls get UNAVAILABLE. */
    void startFailed(String reason) {
        started.completeExceptionally(new StartupFailure(reason));
    }

    private static final class StartupFailure extends Exception {
        private static final long serialVersionUID = 1L;

        StartupFailure(String reason) {
            super(reason, null, false, false);
        }
    }

    /**
     * Lets a call on volumes through with {@code start}, now or once start-up ends, or closes it
     * with UNAVAILABLE.
     */
    <Q, R> ServerCall.Listener<Q> admit(ServerCall<Q, R> call, Supplier<ServerCall.Listener<Q>> start) {
        if (!started.isDone()) {
            return waitForStartup(call, start);
        }
        Status refusal = refusal(null);
        if (refusal != null) {
            call.close(refusal, new Metadata());
            return new ServerCall.Listener<>() {};
        }
        return start.get();
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
    private <Q, R> ServerCall.Listener<Q> waitForStartup(ServerCall<Q, R> call, Supplier<ServerCall.Listener<Q>> start) {
        Context context = Context.current();
        Waiting<Q, R> waiting = new Waiting<>(call, context, start);
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
}
