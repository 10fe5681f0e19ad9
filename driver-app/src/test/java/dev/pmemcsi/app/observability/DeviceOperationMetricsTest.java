package dev.pmemcsi.app.observability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.turbo.TurboFilter;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import ch.qos.logback.core.spi.FilterReply;
import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.InMemoryDeviceManager;
import dev.pmemcsi.device.NoSpaceException;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.VolumeInUseException;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeRequest;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;
import org.slf4j.Marker;

class DeviceOperationMetricsTest {

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final ListAppender<ILoggingEvent> logged = new ListAppender<>();
    private final Logger logger = (Logger) LoggerFactory.getLogger(DeviceOperationMetrics.class);

    @BeforeEach
    void capture() {
        logged.start();
        logger.addAppender(logged);
    }

    @AfterEach
    void release() {
        logger.detachAppender(logged);
    }

    private long count(String operation, String outcome) {
        var timer = registry.find(DeviceOperationMetrics.TIMER).tag("operation", operation).tag("outcome", outcome).timer();
        return timer == null ? -1 : timer.count();
    }

    @Test
    void everyOperationHasASuccessSeriesFromTheStart() {
        try (DeviceOperationMetrics m = new DeviceOperationMetrics(registry)) {
            for (String op : List.of("create", "delete", "erase", "mkfs", "mount")) {
                assertEquals(0, count(op, "success"), op);
            }
        }
    }

    @Test
    void outcomesAreAFixedSetOfLabels() {
        assertEquals("success", DeviceOperationMetrics.outcome(null));
        assertEquals("no_space", DeviceOperationMetrics.outcome(new NoSpaceException("full")));
        assertEquals("in_use", DeviceOperationMetrics.outcome(new VolumeInUseException("mounted")));
        assertEquals("error", DeviceOperationMetrics.outcome(new DeviceException("volume x: EIO")));
        assertEquals("error", DeviceOperationMetrics.outcome(new IllegalStateException("bug")));
    }

    @Test
    void aRunningOperationCountsOnceWhenItEnds() {
        try (DeviceOperationMetrics m = new DeviceOperationMetrics(registry)) {
            OperationListener.Running r = m.started(OperationListener.Kind.MKFS, "ext4 on /dev/loop9");
            assertEquals(0, count("mkfs", "success"));
            r.finished(null);
            r.finished(new DeviceException("reported twice"));
            assertEquals(1, count("mkfs", "success"));
            assertEquals(-1, count("mkfs", "error"), "a second report is ignored");
        }
    }

    @Test
    void slowOperationsLogProgressWithTheirVolume() throws InterruptedException {
        try (DeviceOperationMetrics m = new DeviceOperationMetrics(registry, Duration.ofMillis(40));
             MDC.MDCCloseable mdc = MDC.putCloseable("volume", "pvc-slow")) {
            OperationListener.Running r = m.started(OperationListener.Kind.ERASE, "volume pvc-slow (8 GiB)");
            Thread.sleep(200);
            r.finished(null);
            Thread.sleep(100);
        }
        List<ILoggingEvent> progress = logged.list.stream()
                .filter(e -> e.getFormattedMessage().startsWith("erase of volume pvc-slow (8 GiB) still running after")).toList();
        assertTrue(progress.size() >= 2, logged.list.toString());
        assertTrue(progress.stream().allMatch(e -> "pvc-slow".equals(e.getMDCPropertyMap().get("volume"))),
                "progress lines carry the volume of the thread that started the operation");
        int lastCount = logged.list.size();
        assertTrue(logged.list.get(lastCount - 1).getFormattedMessage().matches("erase of volume pvc-slow \\(8 GiB\\) finished after \\d+ s: success"),
                logged.list.toString());
        assertEquals(1, count("erase", "success"));
    }

    @Test
    void aProgressLineUnderWayWhenTheOperationEndsComesBeforeTheLineOfTheEnd() throws Exception {
        // The first "still running" line is held at the start of its logging call, before logback
        // builds and appends it, until the operation has been told it finished.
        CountDownLatch tickInside = new CountDownLatch(1);
        CountDownLatch releaseTick = new CountDownLatch(1);
        AtomicBoolean held = new AtomicBoolean();
        TurboFilter holdFirstTick = new TurboFilter() {
            @Override
            public FilterReply decide(Marker marker, Logger l, Level level, String format, Object[] params, Throwable t) {
                if (format != null && format.contains("still running") && held.compareAndSet(false, true)) {
                    tickInside.countDown();
                    try {
                        releaseTick.await(5, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                return FilterReply.NEUTRAL;
            }
        };
        LoggerContext context = logger.getLoggerContext();
        context.addTurboFilter(holdFirstTick);
        try (DeviceOperationMetrics m = new DeviceOperationMetrics(registry, Duration.ofMillis(20))) {
            OperationListener.Running r = m.started(OperationListener.Kind.ERASE, "volume pvc-race");
            assertTrue(tickInside.await(5, TimeUnit.SECONDS), "a progress tick started");
            Thread finisher = new Thread(() -> r.finished(null));
            finisher.start();
            // Time for the end to log its line, if nothing holds it back.
            finisher.join(200);
            releaseTick.countDown();
            finisher.join(5000);
        } finally {
            context.getTurboFilterList().remove(holdFirstTick);
        }
        List<String> lines = logged.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
        assertTrue(lines.get(lines.size() - 1).startsWith("erase of volume pvc-race finished after"), lines.toString());
    }

    @Test
    void quickOperationsLogNothing() {
        try (DeviceOperationMetrics m = new DeviceOperationMetrics(registry, Duration.ofSeconds(10))) {
            m.started(OperationListener.Kind.MOUNT, "/dev/loop9 at /mnt").finished(null);
        }
        assertEquals(List.of(), logged.list);
    }

    @Test
    void aBackendTimesItsCreatesAndDeletesByOutcome() throws DeviceException {
        try (DeviceOperationMetrics m = new DeviceOperationMetrics(registry)) {
            InMemoryDeviceManager dm = new InMemoryDeviceManager(16 * CapacityMath.MIB, new long[] {256 * CapacityMath.MIB})
                    .reportingTo(m);
            dm.start();
            dm.createVolume(new VolumeRequest("vol-1", 64 * CapacityMath.MIB, 0, VolumeMode.FSDAX, false, Map.of()));
            assertThrows(NoSpaceException.class, () -> dm.createVolume(
                    new VolumeRequest("vol-2", 1024 * CapacityMath.MIB, 0, VolumeMode.FSDAX, false, Map.of())));
            dm.setInUse("vol-1", true);
            assertThrows(VolumeInUseException.class, () -> dm.deleteVolume("vol-1", false));
            dm.setInUse("vol-1", false);
            dm.deleteVolume("vol-1", false);
            assertEquals(1, count("create", "success"));
            assertEquals(1, count("create", "no_space"));
            assertEquals(1, count("delete", "in_use"));
            assertEquals(1, count("delete", "success"));
            assertEquals(List.of(), dm.listVolumes());
        }
    }
}
