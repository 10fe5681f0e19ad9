package dev.pmemcsi.app.observability;

import dev.pmemcsi.device.DeviceBusyException;
import dev.pmemcsi.device.DeviceGoneException;
import dev.pmemcsi.device.NoSpaceException;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.OutOfRangeException;
import dev.pmemcsi.device.VolumeExistsException;
import dev.pmemcsi.device.VolumeInUseException;
import dev.pmemcsi.device.VolumeNotFoundException;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Times create, delete, erase, mkfs, mount and the copies of snapshots, restores and clones into {@code pmem_device_operations_seconds}, by
 * operation and outcome, and reports operations that take long: a line every
 * {@code progressInterval} while one runs, and one when it ends. Erases also log their own
 * percentage; mkfs is an external tool that reports nothing while it works, so these lines are
 * all an operator sees of a slow one.
 */
public final class DeviceOperationMetrics implements OperationListener, AutoCloseable {

    public static final String TIMER = "pmem_device_operations";
    public static final String SUCCESS = "success";

    private static final Logger LOG = LoggerFactory.getLogger(DeviceOperationMetrics.class);

    private final MeterRegistry registry;
    private final Duration progressInterval;
    private final ScheduledExecutorService progress;

    public DeviceOperationMetrics(MeterRegistry registry) {
        this(registry, Duration.ofSeconds(10));
    }

    public DeviceOperationMetrics(MeterRegistry registry, Duration progressInterval) {
        this.registry = registry;
        this.progressInterval = progressInterval;
        this.progress = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "device-operation-progress");
            t.setDaemon(true);
            return t;
        });
        // Every operation has a series from the start, so rate() and absent() work before the first call.
        for (Kind kind : Kind.values()) {
            timer(kind, SUCCESS);
        }
    }

    @Override
    public Running started(Kind kind, String subject) {
        long start = System.nanoTime();
        Map<String, String> mdc = MDC.getCopyOfContextMap();
        AtomicBoolean done = new AtomicBoolean();
        // A tick already under way when the operation ends must not log "still running" after
        // "finished": the tick's check and line, and the end's mark, hold this lock.
        Object progressLine = new Object();
        ScheduledFuture<?> ticker = progress.scheduleAtFixedRate(() -> {
            synchronized (progressLine) {
                if (done.get()) {
                    return;
                }
                Map<String, String> before = MDC.getCopyOfContextMap();
                MDC.setContextMap(mdc == null ? Map.of() : mdc);
                try {
                    LOG.info("{} of {} still running after {} s", kind.label(), subject,
                            TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start));
                } finally {
                    MDC.setContextMap(before == null ? Map.of() : before);
                }
            }
        }, progressInterval.toNanos(), progressInterval.toNanos(), TimeUnit.NANOSECONDS);
        return failure -> {
            synchronized (progressLine) {
                if (!done.compareAndSet(false, true)) {
                    return;
                }
            }
            ticker.cancel(false);
            long nanos = System.nanoTime() - start;
            String outcome = outcome(failure);
            timer(kind, outcome).record(nanos, TimeUnit.NANOSECONDS);
            if (nanos >= progressInterval.toNanos()) {
                LOG.info("{} of {} finished after {} s: {}", kind.label(), subject,
                        TimeUnit.NANOSECONDS.toSeconds(nanos), outcome);
            }
        };
    }

    private Timer timer(Kind kind, String outcome) {
        return Timer.builder(TIMER)
                .description("Device operations (create, delete, erase, mkfs, mount, snapshot, restore, clone) by outcome")
                .tag("operation", kind.label())
                .tag("outcome", outcome)
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofMinutes(30))
                .register(registry);
    }

    /** A small, fixed set of outcomes, so that a failure message never becomes a label value. */
    static String outcome(Throwable failure) {
        if (failure == null) {
            return SUCCESS;
        }
        if (failure instanceof NoSpaceException) {
            return "no_space";
        }
        if (failure instanceof OutOfRangeException) {
            return "out_of_range";
        }
        if (failure instanceof VolumeExistsException) {
            return "exists";
        }
        if (failure instanceof VolumeInUseException) {
            return "in_use";
        }
        if (failure instanceof DeviceBusyException) {
            return "busy";
        }
        if (failure instanceof VolumeNotFoundException) {
            return "not_found";
        }
        if (failure instanceof DeviceGoneException) {
            return "gone";
        }
        return "error";
    }

    @Override
    public void close() {
        progress.shutdownNow();
    }
}
