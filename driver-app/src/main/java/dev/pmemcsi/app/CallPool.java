package dev.pmemcsi.app;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The threads that run CSI calls: up to {@code maxThreads}, a new one only when none is idle, and
 * each gone after {@code keepAlive} seconds without work; calls beyond the maximum wait in line.
 *
 * <p>A plain {@link ThreadPoolExecutor} with {@code core == max} starts a new thread for every
 * call until it has {@code max} of them, even while others sit idle: ten concurrent lifecycles
 * left sixteen threads (and their stacks) behind. Here the pool counts the calls it holds: while
 * there are more calls than threads, no thread is idle and the pool grows; otherwise the call goes
 * into the queue, where an idle thread waits for it.
 *
 * <p>The queue is a {@link LinkedBlockingQueue}, whose waiting threads park. A hand-off through a
 * {@code LinkedTransferQueue} gives the same thread counts, but its waiting threads spin before
 * they park, and sixteen spinning threads on a two-core node cost a fifth of the calls per second
 * of 32 callers back to back (docs/performance.md, section 3).
 */
final class CallPool {

    private CallPool() {}

    static ThreadPoolExecutor create(int maxThreads, long keepAliveSeconds, ThreadFactory threads) {
        GrowFirstQueue queue = new GrowFirstQueue();
        Pool pool = new Pool(maxThreads, keepAliveSeconds, queue, threads);
        queue.pool = pool;
        return pool;
    }

    private static final class Pool extends ThreadPoolExecutor {
        /** Calls submitted and not finished: running or waiting in the queue. */
        final AtomicInteger calls = new AtomicInteger();

        Pool(int maxThreads, long keepAliveSeconds, GrowFirstQueue queue, ThreadFactory threads) {
            super(0, maxThreads, keepAliveSeconds, TimeUnit.SECONDS, queue, threads, (call, executor) -> {
                if (executor.isShutdown()) {
                    throw new RejectedExecutionException("the CSI server is shutting down");
                }
                // The pool reached its maximum between the queue's check and the new thread.
                queue.enqueue(call);
            });
        }

        @Override
        public void execute(Runnable call) {
            calls.incrementAndGet();
            try {
                super.execute(call);
            } catch (RuntimeException | Error e) {
                calls.decrementAndGet();
                throw e;
            }
        }

        @Override
        protected void afterExecute(Runnable call, Throwable failure) {
            calls.decrementAndGet();
        }
    }

    /** Refuses a call while every thread is busy and the pool may still grow, so that it grows. */
    private static final class GrowFirstQueue extends LinkedBlockingQueue<Runnable> {
        private static final long serialVersionUID = 1L;

        private transient volatile Pool pool;

        @Override
        public boolean offer(Runnable call) {
            Pool p = pool;
            if (p != null && p.getPoolSize() < p.getMaximumPoolSize() && p.calls.get() > p.getPoolSize()) {
                return false;
            }
            return super.offer(call);
        }

        void enqueue(Runnable call) {
            super.offer(call);
        }
    }
}
