package dev.pmemcsi.app;

import java.util.concurrent.LinkedTransferQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The threads that run CSI calls: up to {@code maxThreads}, a new one only when none is idle, and
 * each gone after {@code keepAlive} seconds without work; calls beyond the maximum wait in line.
 *
 * <p>A plain {@link ThreadPoolExecutor} with {@code core == max} starts a new thread for every
 * call until it has {@code max} of them, even while others sit idle: ten concurrent lifecycles
 * left sixteen threads (and their stacks) behind. Here a call is first handed straight to an idle
 * thread; only when none takes it does the pool grow, and only at its maximum does the call queue.
 */
final class CallPool {

    private CallPool() {}

    static ThreadPoolExecutor create(int maxThreads, long keepAliveSeconds, ThreadFactory threads) {
        HandOffQueue queue = new HandOffQueue();
        ThreadPoolExecutor pool = new ThreadPoolExecutor(0, maxThreads, keepAliveSeconds, TimeUnit.SECONDS, queue,
                threads, (call, executor) -> {
                    // Every thread is busy: the call waits for the first one that finishes.
                    if (executor.isShutdown()) {
                        throw new RejectedExecutionException("the CSI server is shutting down");
                    }
                    queue.enqueue(call);
                });
        return pool;
    }

    /** Accepts a call from the executor only when an idle thread takes it at once. */
    private static final class HandOffQueue extends LinkedTransferQueue<Runnable> {
        private static final long serialVersionUID = 1L;

        @Override
        public boolean offer(Runnable call) {
            return tryTransfer(call);
        }

        void enqueue(Runnable call) {
            super.offer(call);
        }
    }
}
