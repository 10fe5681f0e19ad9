package dev.pmemcsi.reliability;

import static dev.pmemcsi.reliability.Csi.MIB;
import static dev.pmemcsi.reliability.Csi.retrying;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.csi.v1.Volume;
import dev.pmemcsi.device.VolumeIds;
import io.grpc.Status.Code;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Many callers at once on few volumes. Sizes are fixed (and stated in docs/reliability.md):
 * 300 parallel CreateVolume calls over {@value #NAMES} names, and 12 threads × 40 interleaved
 * create, delete, stage and unstage calls over {@value #NAMES} names. The QEMU guest, where every
 * namespace costs a fraction of a second, runs smaller fixed sizes through the system properties
 * {@code pmemcsi.storm.create-calls}, {@code pmemcsi.storm.mixed-threads} and
 * {@code pmemcsi.storm.mixed-ops-per-thread}.
 */
class StormIT {

    static final int CREATE_CALLS = Integer.getInteger("pmemcsi.storm.create-calls", 300);
    static final int NAMES = 4;
    static final int MIXED_THREADS = Integer.getInteger("pmemcsi.storm.mixed-threads", 12);
    static final int MIXED_OPS_PER_THREAD = Integer.getInteger("pmemcsi.storm.mixed-ops-per-thread", 40);

    /** Several times the gauges' 2 s cache, so a slow scrape on a busy machine is no failure. */
    private static final Duration GAUGE_SETTLE = Duration.ofSeconds(10);

    private Workspace ws;
    private DriverProcess driver;
    private Metrics metrics;
    private Backend backend;
    private long initialAvailable;

    @BeforeEach
    void start() throws Exception {
        ws = new Workspace("storm");
        backend = new Backend(ws);
        metrics = new Metrics();
        driver = DriverProcess.start(ws, null, metrics.flags());
        initialAvailable = driver.csi().available();
    }

    @AfterEach
    void stop() throws Exception {
        try {
            driver.close();
        } finally {
            ws.close();
        }
    }

    private static long sizeOf(int name) {
        return (name + 1) * 48 * MIB;
    }

    /** Media arithmetic, from the backend's own accounting and the driver's gauges: used + available = total. */
    private void assertCapacityExact() throws Exception {
        long used = backend.usedBytes();
        // The capacity gauges cache for 2 s, so a scrape right after a change may still show the
        // state before it: scrape until they agree, for a bounded time, and fail with what was last seen.
        long deadline = System.nanoTime() + GAUGE_SETTLE.toNanos();
        while (true) {
            Map<String, Double> m = metrics.scrape();
            try {
                long total = m.get("pmem_amount_total").longValue();
                assertEquals(backend.regionBytes(), total, "total is the regions' size");
                assertEquals(total, m.get("pmem_amount_managed").longValue(), "the driver manages all of its regions");
                assertEquals(used, m.get("pmem_region_used_bytes").longValue(), "used is what the backend holds");
                assertEquals(total, m.get("pmem_amount_available").longValue() + m.get("pmem_region_used_bytes").longValue(),
                        "available + used = total");
                return;
            } catch (AssertionError e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
            }
            Thread.sleep(100);
        }
    }

    private void deleteEverything(List<Path> stagings) {
        Csi csi = driver.csi();
        for (int i = 0; i < NAMES; i++) {
            String id = VolumeIds.fromName("storm-" + i);
            Path staging = stagings == null ? null : stagings.get(i);
            if (staging != null) {
                retrying(() -> csi.unstage(id, staging));
            }
            retrying(() -> csi.delete(id));
        }
        assertEquals(List.of(), csi.listAll());
        assertEquals(initialAvailable, csi.available(), "all capacity is back");
    }

    @Test
    void parallelCreatesGiveExactlyOneVolumePerName() throws Exception {
        Csi csi = driver.csi();
        ExecutorService pool = Executors.newFixedThreadPool(48);
        CountDownLatch go = new CountDownLatch(1);
        Map<Integer, List<Volume>> answers = new ConcurrentHashMap<>();
        Map<Code, AtomicInteger> codes = new ConcurrentHashMap<>();
        List<Future<?>> calls = new ArrayList<>();
        for (int i = 0; i < CREATE_CALLS; i++) {
            int name = i % NAMES;
            calls.add(pool.submit(() -> {
                go.await();
                try {
                    Volume v = csi.create("storm-" + name, sizeOf(name));
                    answers.computeIfAbsent(name, k -> new java.util.concurrent.CopyOnWriteArrayList<>()).add(v);
                    codes.computeIfAbsent(Code.OK, k -> new AtomicInteger()).incrementAndGet();
                } catch (StatusRuntimeException e) {
                    codes.computeIfAbsent(e.getStatus().getCode(), k -> new AtomicInteger()).incrementAndGet();
                }
                return null;
            }));
        }
        go.countDown();
        for (Future<?> f : calls) {
            f.get(5, TimeUnit.MINUTES);
        }
        pool.shutdown();
        System.out.println("create storm answers: " + codes);
        assertTrue(codes.keySet().stream().allMatch(c -> c == Code.OK || c == Code.ABORTED),
                "only OK or ABORTED: " + codes);
        assertEquals(CREATE_CALLS, codes.values().stream().mapToInt(AtomicInteger::get).sum());
        // Every name ends with exactly one volume of its size; every OK answer for it is the same.
        for (int name = 0; name < NAMES; name++) {
            int n = name;
            Volume v = retrying(() -> csi.create("storm-" + n, sizeOf(n)));
            assertTrue(v.getCapacityBytes() >= sizeOf(name) && v.getCapacityBytes() < sizeOf(name) + 32 * MIB);
            for (Volume a : answers.getOrDefault(name, List.of())) {
                assertEquals(v, a);
            }
        }
        assertEquals(NAMES, csi.listAll().size());
        assertEquals(NAMES, backend.rows().size());
        assertTrue(backend.rows().stream().allMatch(r -> r.state().equals("READY")));
        assertCapacityExact();
        deleteEverything(null);
        assertCapacityExact();
        driver.stop();
        ws.assertNothingHeld();
    }

    @Test
    void interleavedCreateDeleteStageUnstageStayConsistent() throws Exception {
        Csi csi = driver.csi();
        List<Path> stagings = new ArrayList<>();
        for (int i = 0; i < NAMES; i++) {
            stagings.add(ws.newStagingPath());
        }
        ExecutorService pool = Executors.newFixedThreadPool(MIXED_THREADS);
        Map<Code, AtomicInteger> codes = new ConcurrentHashMap<>();
        List<Future<?>> workers = new ArrayList<>();
        for (int t = 0; t < MIXED_THREADS; t++) {
            Random rnd = new Random(1000 + t);
            workers.add(pool.submit(() -> {
                for (int i = 0; i < MIXED_OPS_PER_THREAD; i++) {
                    int name = rnd.nextInt(NAMES);
                    String id = VolumeIds.fromName("storm-" + name);
                    Path staging = stagings.get(name);
                    Runnable op = switch (rnd.nextInt(4)) {
                        case 0 -> () -> csi.create("storm-" + name, sizeOf(name));
                        case 1 -> () -> csi.delete(id);
                        case 2 -> () -> csi.stage(id, staging, Csi.mount());
                        default -> () -> csi.unstage(id, staging);
                    };
                    codes.computeIfAbsent(Csi.codeOf(op), k -> new AtomicInteger()).incrementAndGet();
                }
                return null;
            }));
        }
        for (Future<?> f : workers) {
            f.get(5, TimeUnit.MINUTES);
        }
        pool.shutdown();
        Map<Code, Integer> seen = new EnumMap<>(Code.class);
        codes.forEach((c, n) -> seen.put(c, n.get()));
        System.out.println("mixed storm answers: " + seen);
        assertTrue(seen.keySet().stream().allMatch(c -> c == Code.OK || c == Code.ABORTED
                || c == Code.FAILED_PRECONDITION || c == Code.NOT_FOUND), "documented codes only: " + seen);
        assertTrue(seen.getOrDefault(Code.OK, 0) > 0, "some calls went through: " + seen);
        assertEquals(MIXED_THREADS * MIXED_OPS_PER_THREAD, seen.values().stream().mapToInt(Integer::intValue).sum());
        // The driver's view, the backend's table and the kernel agree.
        List<Volume> listed = csi.listAll();
        assertEquals(listed.size(), backend.rows().size());
        for (int i = 0; i < NAMES; i++) {
            String id = VolumeIds.fromName("storm-" + i);
            boolean exists = listed.stream().anyMatch(v -> v.getVolumeId().equals(id));
            if (!exists) {
                assertTrue(!Host.isMountPoint(stagings.get(i)), "a deleted volume is not mounted");
            }
        }
        assertCapacityExact();
        deleteEverything(stagings);
        assertCapacityExact();
        driver.stop();
        ws.assertNothingHeld();
    }
}
