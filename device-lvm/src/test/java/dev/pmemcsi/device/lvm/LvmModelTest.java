package dev.pmemcsi.device.lvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class LvmModelTest {

    private static final long MIB = 1024 * 1024;

    private static LvmReports.VolumeGroup vg(long free) {
        return new LvmReports.VolumeGroup("vg0", "u", List.of("d"), 100 * MIB, free, 4 * MIB, 1, 0, 0);
    }

    private static LvmReports.LogicalVolume lv(String name, long size) {
        return new LvmReports.LogicalVolume(name, "vg0", "", size, List.of("d"), "-wi-a-----", "", List.of());
    }

    @Test
    void changesAreAppliedOnceWhateverTheReportAlreadySaw() throws Exception {
        AtomicReference<LvmReports.State> lvm = new AtomicReference<>(new LvmReports.State(List.of(vg(100 * MIB)), List.of()));
        LvmModel model = new LvmModel(lvm::get);
        model.refresh();
        model.created(lv("a", 8 * MIB));
        model.created(lv("a", 8 * MIB));
        assertEquals(92 * MIB, model.current().groups().get(0).freeBytes());
        model.resized("vg0/a", 12 * MIB);
        model.resized("vg0/a", 12 * MIB);
        assertEquals(88 * MIB, model.current().groups().get(0).freeBytes());
        model.retagged("vg0/a", List.of("x"), List.of("d"));
        assertEquals(List.of("x"), model.current().volumes().get(0).tags());
        model.removed("vg0/a");
        model.removed("vg0/a");
        assertEquals(100 * MIB, model.current().groups().get(0).freeBytes());
        assertEquals(List.of(), model.current().volumes());
    }

    @Test
    void aFailedChangeOrAnOldModelIsReadAgain() throws Exception {
        AtomicInteger reads = new AtomicInteger();
        AtomicLong now = new AtomicLong();
        LvmModel model = new LvmModel(() -> {
            reads.incrementAndGet();
            return new LvmReports.State(List.of(vg(100 * MIB)), List.of());
        }, Duration.ofSeconds(30), now::get);
        model.current();
        model.current();
        assertEquals(1, reads.get());
        assertThrows(LvmException.class, () -> model.change(() -> {
            throw new LvmException(List.of("lvm", "lvcreate"), 5, "boom", "lvcreate failed", null);
        }));
        model.current();
        assertEquals(2, reads.get(), "lvm may have done part of the failed change");
        now.addAndGet(Duration.ofSeconds(31).toNanos());
        model.current();
        assertEquals(3, reads.get(), "older than the maximum age");
    }

    @Test
    void aReportIsNotReadWhileAChangeRunsSoItNeverOverwritesOne() throws Exception {
        CountDownLatch changing = new CountDownLatch(1);
        CountDownLatch finish = new CountDownLatch(1);
        AtomicReference<LvmReports.State> lvm = new AtomicReference<>(new LvmReports.State(List.of(vg(100 * MIB)), List.of()));
        LvmModel model = new LvmModel(lvm::get);
        model.refresh();
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<?> change = pool.submit(() -> model.change(() -> {
                changing.countDown();
                awaitUninterruptibly(finish);
                lvm.set(new LvmReports.State(List.of(vg(92 * MIB)), List.of(lv("a", 8 * MIB))));
                model.created(lv("a", 8 * MIB));
                return null;
            }));
            changing.await();
            Future<LvmReports.State> report = pool.submit(model::refresh);
            Thread.sleep(100);
            assertTrue(!report.isDone(), "the report waits for the change");
            finish.countDown();
            change.get(10, TimeUnit.SECONDS);
            assertEquals(List.of("a"), report.get(10, TimeUnit.SECONDS).volumes().stream()
                    .map(LvmReports.LogicalVolume::name).toList());
        } finally {
            pool.shutdownNow();
        }
        assertThrows(IllegalStateException.class, () -> model.change(model::refresh));
    }

    private static void awaitUninterruptibly(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
