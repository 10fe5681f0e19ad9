package dev.pmemcsi.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class KeyedLocksTest {

    private final KeyedLocks locks = new KeyedLocks();

    @Test
    void aHeldKeyIsRefusedEvenToTheThreadThatHoldsIt() {
        try (KeyedLocks.Held held = locks.tryAcquire("v1").orElseThrow()) {
            assertTrue(locks.isHeld("v1"));
            assertTrue(locks.tryAcquire("v1").isEmpty());
            assertTrue(locks.tryAcquire("v2").isPresent(), "other keys are independent");
        }
        assertFalse(locks.isHeld("v1"));
        assertTrue(locks.tryAcquire("v1").isPresent());
    }

    @Test
    void lockWaitsForTheHolderToRelease() throws Exception {
        KeyedLocks.Held first = locks.lock("v1");
        CountDownLatch waiting = new CountDownLatch(1);
        CompletableFuture<KeyedLocks.Held> second = CompletableFuture.supplyAsync(() -> {
            waiting.countDown();
            return locks.lock("v1");
        });
        waiting.await();
        try {
            second.get(200, TimeUnit.MILLISECONDS);
            throw new AssertionError("the second lock was granted while the first was held");
        } catch (TimeoutException expected) {
            // still waiting, as it must
        }
        first.close();
        try (KeyedLocks.Held granted = second.get(10, TimeUnit.SECONDS)) {
            assertTrue(locks.isHeld("v1"));
        }
        assertEquals(0, locks.size());
    }

    @Test
    void keysAreDroppedOnceNobodyHoldsOrWaitsForThem() {
        for (int i = 0; i < 1000; i++) {
            try (KeyedLocks.Held held = locks.lock("v" + i)) {
                assertTrue(locks.tryAcquire("v" + i).isEmpty());
            }
        }
        assertEquals(0, locks.size());
    }

    @Test
    void closingTwiceReleasesOnceAndAnotherThreadMayRelease() throws Exception {
        KeyedLocks.Held held = locks.tryAcquire("v1").orElseThrow();
        CompletableFuture.runAsync(held::close).get(10, TimeUnit.SECONDS);
        KeyedLocks.Held next = locks.tryAcquire("v1").orElseThrow();
        held.close();
        assertTrue(locks.isHeld("v1"), "a second close of a released lock must not free the next holder's");
        next.close();
        assertEquals(0, locks.size());
    }
}
