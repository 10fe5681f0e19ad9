package dev.pmemcsi.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class CallPoolTest {

    private final AtomicInteger started = new AtomicInteger();
    private final ThreadFactory threads = r -> {
        started.incrementAndGet();
        Thread t = new Thread(r, "call-pool-test");
        t.setDaemon(true);
        return t;
    };
    private ThreadPoolExecutor pool;

    @AfterEach
    void stop() {
        if (pool != null) {
            pool.shutdownNow();
        }
    }

    @Test
    void callsOneAfterAnotherShareOneThread() throws Exception {
        pool = CallPool.create(16, 30, threads);
        Set<Thread> ran = ConcurrentHashMap.newKeySet();
        for (int i = 0; i < 20; i++) {
            pool.submit(() -> ran.add(Thread.currentThread())).get(5, TimeUnit.SECONDS);
            // The thread that finished the call is idle again before the next call arrives.
            waitUntilIdle(pool);
        }
        assertEquals(1, started.get(), "threads started for 20 sequential calls");
        assertEquals(1, ran.size());
    }

    @Test
    void growsToTheConcurrencyAndNoFurther() throws Exception {
        pool = CallPool.create(16, 30, threads);
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch running = new CountDownLatch(5);
        for (int i = 0; i < 5; i++) {
            pool.execute(() -> {
                running.countDown();
                await(release);
            });
        }
        assertTrue(running.await(5, TimeUnit.SECONDS), "five blocking calls run at once");
        release.countDown();
        waitUntilIdle(pool);
        assertEquals(5, started.get());
    }

    @Test
    void callsBeyondTheMaximumWaitAndAllRun() throws Exception {
        pool = CallPool.create(2, 30, threads);
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch done = new CountDownLatch(6);
        AtomicInteger concurrent = new AtomicInteger();
        AtomicInteger most = new AtomicInteger();
        for (int i = 0; i < 6; i++) {
            pool.execute(() -> {
                most.accumulateAndGet(concurrent.incrementAndGet(), Math::max);
                await(release);
                concurrent.decrementAndGet();
                done.countDown();
            });
        }
        release.countDown();
        assertTrue(done.await(5, TimeUnit.SECONDS), "every queued call ran");
        assertEquals(2, started.get());
        assertTrue(most.get() <= 2, "at most two at once, saw " + most.get());
    }

    @Test
    void rejectsCallsOnceShutDown() {
        pool = CallPool.create(1, 30, threads);
        CountDownLatch release = new CountDownLatch(1);
        pool.execute(() -> await(release));
        pool.shutdown();
        assertThrows(RejectedExecutionException.class, () -> pool.execute(() -> { }));
        release.countDown();
    }

    private static void waitUntilIdle(ThreadPoolExecutor pool) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (pool.getActiveCount() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        // getActiveCount drops just before the worker polls the queue again.
        Thread.sleep(20);
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
