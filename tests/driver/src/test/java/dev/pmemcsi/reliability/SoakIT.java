package dev.pmemcsi.reliability;

import static dev.pmemcsi.reliability.Csi.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.VolumeIds;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A bounded soak: {@value #CYCLES} full volume lifecycles (create, stage, publish, write,
 * stats, unpublish, unstage, delete: 8 calls each) plus {@value #CYCLES} ephemeral
 * publish/unpublish pairs and read-only calls, {@value #OPERATIONS} calls in all. The driver's
 * open file descriptors, threads and heap after a full GC must come back to where they were after
 * warm-up, within small fixed margins.
 */
class SoakIT {

    static final int CYCLES = 250;
    static final int WARMUP = 30;
    static final int OPERATIONS = (CYCLES + WARMUP) * 13;
    static final int FD_MARGIN = 8;
    static final int THREAD_MARGIN = 6;
    static final long HEAP_MARGIN = 16 * MIB;

    record Sample(int fds, int threads, long heap) {}

    private static Sample sample(DriverProcess d, Metrics metrics) throws Exception {
        // jcmd asks the JVM for a full collection; the heap figure is then what is really retained.
        Process gc = new ProcessBuilder(List.of(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                Long.toString(d.pid()), "GC.run")).redirectErrorStream(true).start();
        gc.getInputStream().readAllBytes();
        assertEquals(0, gc.waitFor());
        Thread.sleep(300);
        int fds;
        try (var s = Files.list(Path.of("/proc", Long.toString(d.pid()), "fd"))) {
            fds = (int) s.count();
        }
        int threads = threads(d.pid());
        long heap = heapOf(metrics);
        assertTrue(heap > 0, "the driver reports its heap");
        return new Sample(fds, threads, heap);
    }

    private static long heapOf(Metrics metrics) throws Exception {
        return metrics.scrapeLines().stream().filter(l -> l.startsWith("jvm_memory_used_bytes{area=\"heap\""))
                .mapToLong(l -> (long) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }

    private static int threads(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith("Threads:")) {
                return Integer.parseInt(line.substring(8).strip());
            }
        }
        throw new IllegalStateException("no Threads: line");
    }

    private static void cycle(Csi csi, Workspace ws, int i) throws IOException {
        String name = "soak-" + (i % 3);
        String id = VolumeIds.fromName(name);
        Path staging = ws.newStagingPath();
        Path target = ws.newTargetPath();
        csi.create(name, 32 * MIB);
        csi.stage(id, staging, Csi.mount());
        csi.publish(id, staging, target, Csi.mount());
        Files.writeString(target.resolve("f"), "x" + i);
        csi.node().nodeGetVolumeStats(dev.pmemcsi.csi.v1.NodeGetVolumeStatsRequest.newBuilder().setVolumeId(id)
                .setVolumePath(target.toString()).build());
        csi.unpublish(id, target);
        csi.unstage(id, staging);
        csi.delete(id);
        Path inline = ws.newTargetPath();
        csi.node().nodePublishVolume(Csi.ephemeralRequest("soak-inline", inline, "16Mi"));
        csi.unpublish("soak-inline", inline);
        csi.listAll();
        csi.available();
        csi.identity().probe(dev.pmemcsi.csi.v1.ProbeRequest.getDefaultInstance());
        // kubelet removes the pod and plugin directories it made
        Files.delete(staging);
        Files.delete(staging.getParent());
        Files.delete(target.getParent());
        Files.delete(target.getParent().getParent());
        Files.delete(inline.getParent());
        Files.delete(inline.getParent().getParent());
    }

    @Test
    void resourcesStayFlat() throws Exception {
        try (Workspace ws = new Workspace("soak")) {
            Metrics metrics = new Metrics();
            try (DriverProcess d = DriverProcess.start(ws, null, metrics.flags())) {
                Csi csi = d.csi();
                long initial = csi.available();
                for (int i = 0; i < WARMUP; i++) {
                    cycle(csi, ws, i);
                }
                Sample before = sample(d, metrics);
                long t0 = System.nanoTime();
                for (int i = 0; i < CYCLES; i++) {
                    cycle(csi, ws, i);
                }
                long ms = (System.nanoTime() - t0) / 1_000_000;
                Sample after = sample(d, metrics);
                System.out.printf("soak: %d calls in %d ms; before %s, after %s%n", CYCLES * 13, ms, before, after);
                assertTrue(after.fds() <= before.fds() + FD_MARGIN, "file descriptors grew: " + before + " -> " + after);
                assertTrue(after.threads() <= before.threads() + THREAD_MARGIN, "threads grew: " + before + " -> " + after);
                assertTrue(after.heap() <= before.heap() + HEAP_MARGIN, "retained heap grew: " + before + " -> " + after);
                assertEquals(List.of(), csi.listAll());
                assertEquals(initial, csi.available());
                d.stop();
            }
            ws.assertNothingHeld();
        }
    }
}
