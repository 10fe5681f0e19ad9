package dev.pmemcsi.bench;

import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;

/**
 * Target 3: GetCapacity and Probe p50 <= 1 ms and p99 <= 5 ms at 32 concurrent callers over the
 * Unix socket. Every caller has its own connection, as kubelet and each sidecar do; their I/O
 * shares one event loop so that the client takes as little of the two cores as it can. Latency is
 * measured at the caller, so it still includes the client's share; a single caller's figures are
 * measured alongside as the reference.
 */
final class RpcLatencyScenario implements Scenario {

    private static final int CALLERS = 32;
    /**
     * Callers that call back to back measure throughput as much as latency: with 32 calls always in
     * flight, each waits for the others (Little's law). Paced callers, each calling every 10 ms
     * (3,200 calls/s in all, far more than kubelet and the sidecars make), show the latency of
     * concurrent calls without that self-made queue. Both are printed.
     */
    private static final long PACING_NANOS = 10_000_000;

    @Override
    public String name() {
        return "rpc";
    }

    @Override
    @SuppressWarnings("deprecation") // gRPC's shaded Netty still takes an EpollEventLoopGroup for epoll channels
    public void run(Settings settings, Report report) throws Exception {
        report.section("3. RPC overhead: Probe and GetCapacity over the Unix socket");
        int calls = settings.reps(500, 100);
        try (Workspace ws = Workspace.create("rpc");
             DriverProcess driver = DriverProcess.start(settings.repo(), ws, "4Gi,4Gi", DriverProcess.Jvm.DEFAULT)) {
            driver.awaitReady(Duration.ofSeconds(60)).client().close();
            List<CsiClient> clients = new ArrayList<>();
            EventLoopGroup loop = new EpollEventLoopGroup(1);
            try {
                for (int i = 0; i < CALLERS; i++) {
                    clients.add(CsiClient.open(driver.endpoint(), loop));
                }
                // Warm-up: connections, the driver's compiled code, the client's.
                measure(clients, CALLERS, calls, CsiClient::probe, 0);
                measure(clients, CALLERS, calls, CsiClient::capacity, 0);
                for (String rpc : List.of("Probe", "GetCapacity")) {
                    Call call = rpc.equals("Probe") ? CsiClient::probe : CsiClient::capacity;
                    Sample single = measure(clients, 1, calls * 4, call, 0);
                    Sample paced = measure(clients, CALLERS, calls / 2, call, PACING_NANOS);
                    long t0 = System.nanoTime();
                    Sample many = measure(clients, CALLERS, calls, call, 0);
                    double seconds = (System.nanoTime() - t0) / 1e9;
                    report.line("%s, 1 caller:   p50 %s ms, p90 %s ms, p99 %s ms, max %s ms (n %d)", rpc,
                            Sample.fmt(single.median()), Sample.fmt(single.percentile(90)),
                            Sample.fmt(single.percentile(99)), Sample.fmt(single.max()), single.size());
                    report.line("%s, %d callers: p50 %s ms, p90 %s ms, p99 %s ms, max %s ms (n %d, %.0f calls/s)", rpc,
                            CALLERS, Sample.fmt(many.median()), Sample.fmt(many.percentile(90)),
                            Sample.fmt(many.percentile(99)), Sample.fmt(many.max()), many.size(), many.size() / seconds);
                    report.line("%s, %d callers, each every %d ms: p50 %s ms, p90 %s ms, p99 %s ms, max %s ms (n %d)",
                            rpc, CALLERS, PACING_NANOS / 1_000_000, Sample.fmt(paced.median()),
                            Sample.fmt(paced.percentile(90)), Sample.fmt(paced.percentile(99)),
                            Sample.fmt(paced.max()), paced.size());
                    report.line("ratio p50 %d callers back to back / 1 caller: %.2f; paced / 1 caller: %.2f", CALLERS,
                            many.median() / single.median(), paced.median() / single.median());
                    report.target(rpc + " p50, " + CALLERS + " back to back", many.median(), "ms", 1.0);
                    report.target(rpc + " p99, " + CALLERS + " back to back", many.percentile(99), "ms", 5.0);
                    report.target(rpc + " p50, " + CALLERS + " paced", paced.median(), "ms", 1.0);
                    report.target(rpc + " p99, " + CALLERS + " paced", paced.percentile(99), "ms", 5.0);
                }
                report.line("driver after the calls: %s", driver.status());
            } finally {
                clients.forEach(CsiClient::close);
                loop.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            }
        }
    }

    @FunctionalInterface
    private interface Call {
        void call(CsiClient client);
    }

    /**
     * {@code callers} threads, released together, each making {@code calls} calls, back to back or
     * one every {@code pacingNanos} from a random phase; latencies in ms.
     */
    private static Sample measure(List<CsiClient> clients, int callers, int calls, Call call, long pacingNanos)
            throws Exception {
        Sample latencies = new Sample();
        List<Sample> perCaller = new ArrayList<>();
        CyclicBarrier start = new CyclicBarrier(callers);
        List<Thread> threads = new ArrayList<>();
        List<Throwable> errors = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int i = 0; i < callers; i++) {
            CsiClient client = clients.get(i);
            // One sample per caller, merged at the end: a shared one would make callers contend on its lock.
            Sample mine = new Sample();
            perCaller.add(mine);
            Thread t = new Thread(() -> {
                try {
                    start.await(30, TimeUnit.SECONDS);
                    long next = System.nanoTime()
                            + (pacingNanos > 0 ? java.util.concurrent.ThreadLocalRandom.current().nextLong(pacingNanos) : 0);
                    for (int c = 0; c < calls; c++) {
                        if (pacingNanos > 0) {
                            long wait = next - System.nanoTime();
                            if (wait > 0) {
                                TimeUnit.NANOSECONDS.sleep(wait);
                            }
                            next += pacingNanos;
                        }
                        long t0 = System.nanoTime();
                        call.call(client);
                        mine.add((System.nanoTime() - t0) / 1e6);
                    }
                } catch (Exception | Error e) {
                    errors.add(e);
                }
            }, "caller-" + i);
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) {
            t.join();
        }
        if (!errors.isEmpty()) {
            throw new IllegalStateException("a caller failed: " + errors.get(0), errors.get(0));
        }
        perCaller.forEach(latencies::addAll);
        return latencies;
    }
}
