package dev.pmemcsi.device.ndctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.Volume;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.ndctl.NamespaceInfo;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * CreateVolume/DeleteVolume through the device layer against the ndctl CLI on the same VM, and
 * the two erase methods against each other. Prints medians; asserts only that every run worked.
 */
class NdctlBenchmarkGuestTest {

    private static final int RUNS = Integer.getInteger("pmemcsi.bench.runs", 10);
    private static final long MIB = 1024 * 1024;

    @Test
    void createAndDeleteAgainstTheCli() throws Exception {
        NdctlDeviceManager dm = new NdctlDeviceManager("bench.pmem-csi.dev");
        dm.start();
        long[] create = new long[RUNS];
        long[] delete = new long[RUNS];
        long[] cliCreate = new long[RUNS];
        long[] cliDestroy = new long[RUNS];
        for (int i = 0; i < RUNS; i++) {
            VolumeRequest req = new VolumeRequest("bench-" + i, 1024 * MIB - 64 * MIB, 0, VolumeMode.FSDAX, false, Map.of());
            long t0 = System.nanoTime();
            Volume v = dm.createVolume(req);
            long t1 = System.nanoTime();
            dm.deleteVolume(v.id(), false);
            long t2 = System.nanoTime();
            create[i] = t1 - t0;
            delete[i] = t2 - t1;

            t0 = System.nanoTime();
            NdctlDeviceManagerGuestTest.run("ndctl", "create-namespace", "--region=" + v.region(), "--mode=fsdax",
                    "--size=" + v.allocatedBytes(), "--name=cli-bench");
            t1 = System.nanoTime();
            String devname = namespaceNamed("cli-bench");
            NdctlDeviceManagerGuestTest.run("ndctl", "destroy-namespace", "--force", devname);
            t2 = System.nanoTime();
            cliCreate[i] = t1 - t0;
            cliDestroy[i] = t2 - t1;
        }
        dm.close();
        print("create 960 MiB fsdax", create, cliCreate);
        print("delete (no erase)", delete, cliDestroy);
    }

    @Test
    void eraseMethods() throws Exception {
        NdctlDeviceManager dm = new NdctlDeviceManager("bench.pmem-csi.dev");
        dm.start();
        Volume v = dm.createVolume(new VolumeRequest("bench-erase", 1024 * MIB, 0, VolumeMode.FSDAX, false, Map.of()));
        int runs = Math.max(3, RUNS / 3);
        long[] zeroout = new long[runs];
        long[] direct = new long[runs];
        try {
            // One untimed pass first: the first write to emulated PMEM also pays for the host's page allocation.
            new BlockDeviceEraser(BlockDeviceEraser.Method.ZEROOUT).erase(v.id(), v.devicePath());
            for (int i = 0; i < runs; i++) {
                // Alternate the order so that neither method always runs on a warmer cache.
                boolean zeroFirst = i % 2 == 0;
                zeroout[i] = timeErase(v, zeroFirst ? BlockDeviceEraser.Method.ZEROOUT : BlockDeviceEraser.Method.DIRECT_WRITE);
                direct[i] = timeErase(v, zeroFirst ? BlockDeviceEraser.Method.DIRECT_WRITE : BlockDeviceEraser.Method.ZEROOUT);
                if (!zeroFirst) {
                    long t = zeroout[i];
                    zeroout[i] = direct[i];
                    direct[i] = t;
                }
            }
        } finally {
            dm.deleteVolume(v.id(), false);
            dm.close();
        }
        System.out.printf("BENCH erase %d MiB: BLKZEROOUT median %.1f ms, O_DIRECT writes median %.1f ms (%d runs)%n",
                v.usableBytes() >> 20, median(zeroout), median(direct), runs);
    }

    private static long timeErase(Volume v, BlockDeviceEraser.Method method) throws Exception {
        long t0 = System.nanoTime();
        new BlockDeviceEraser(method).erase(v.id(), v.devicePath());
        return System.nanoTime() - t0;
    }

    private static String namespaceNamed(String name) throws Exception {
        List<String> found = new ArrayList<>();
        for (NamespaceInfo ns : new LibNdctlBackend().regions().stream().flatMap(r -> r.namespaces().stream()).toList()) {
            if (ns.allocated() && ns.altName().equals(name)) {
                found.add(ns.devname());
            }
        }
        assertEquals(1, found.size(), "namespaces named " + name + ": " + found);
        return found.get(0);
    }

    private static double median(long[] nanos) {
        long[] s = nanos.clone();
        Arrays.sort(s);
        double mid = s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2.0;
        return mid / 1e6;
    }

    private static void print(String what, long[] ours, long[] cli) {
        double a = median(ours);
        double b = median(cli);
        assertTrue(a > 0 && b > 0);
        System.out.printf("BENCH %s: device layer median %.1f ms, ndctl CLI median %.1f ms, ratio %.2f (%d runs; min/max ours %.1f/%.1f, cli %.1f/%.1f)%n",
                what, a, b, a / b, ours.length, Arrays.stream(ours).min().orElse(0) / 1e6, Arrays.stream(ours).max().orElse(0) / 1e6,
                Arrays.stream(cli).min().orElse(0) / 1e6, Arrays.stream(cli).max().orElse(0) / 1e6);
    }
}
