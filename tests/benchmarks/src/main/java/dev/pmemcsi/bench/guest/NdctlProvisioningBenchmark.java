package dev.pmemcsi.bench.guest;

import dev.pmemcsi.device.BlockDeviceEraser;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.device.ndctl.LibNdctlBackend;
import dev.pmemcsi.device.ndctl.NdctlDeviceManager;
import dev.pmemcsi.ndctl.NamespaceInfo;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * CreateVolume/DeleteVolume through the device layer (direct mode, libndctl) against the ndctl CLI
 * on the same machine, and the two erase methods against each other. Prints {@code BENCH} lines
 * with medians; asserts nothing. Needs real NVDIMMs: it runs in the QEMU guest's
 * {@code guest-benchmarks} step ({@code E2E_BENCHMARKS=1}).
 *
 * <p>Usage: {@code NdctlProvisioningBenchmark [runs]} (default 10; the erase comparison takes a
 * third of them, at least 3).
 */
public final class NdctlProvisioningBenchmark {

    private static final String PROGRAM = "NdctlProvisioningBenchmark";
    private static final long MIB = 1024 * 1024;
    private static final String CLI_NAME = "cli-bench";

    private NdctlProvisioningBenchmark() {}

    public static void main(String[] args) throws Exception {
        int runs = Guest.runs(PROGRAM, args, 10);
        NdctlDeviceManager dm = Guest.devices(PROGRAM, "bench.pmem-csi.dev");
        try {
            createAndDeleteAgainstTheCli(dm, runs);
            eraseMethods(dm, Math.max(3, runs / 3));
        } finally {
            dm.close();
        }
    }

    private static void createAndDeleteAgainstTheCli(NdctlDeviceManager dm, int runs) throws Exception {
        List<Long> create = new ArrayList<>();
        List<Long> delete = new ArrayList<>();
        List<Long> cliCreate = new ArrayList<>();
        List<Long> cliDestroy = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            VolumeRequest req = new VolumeRequest("bench-" + i, 1024 * MIB - 64 * MIB, 0, VolumeMode.FSDAX, false, Map.of());
            long t0 = System.nanoTime();
            PmemVolume v = dm.createVolume(req);
            long t1 = System.nanoTime();
            dm.deleteVolume(v.id(), false);
            long t2 = System.nanoTime();
            create.add(t1 - t0);
            delete.add(t2 - t1);

            t0 = System.nanoTime();
            Guest.run("ndctl", "create-namespace", "--region=" + v.region(), "--mode=fsdax",
                    "--size=" + v.allocatedBytes(), "--name=" + CLI_NAME);
            t1 = System.nanoTime();
            List<String> made = namespacesNamed(CLI_NAME);
            try {
                if (made.size() != 1) {
                    throw new IllegalStateException("ndctl create-namespace made " + made.size()
                            + " namespaces named " + CLI_NAME + ": " + made);
                }
                t2 = System.nanoTime();
                Guest.run("ndctl", "destroy-namespace", "--force", made.get(0));
                long t3 = System.nanoTime();
                cliCreate.add(t1 - t0);
                cliDestroy.add(t3 - t2);
            } finally {
                // Whatever went wrong, no namespace of this run may outlive it.
                for (String left : namespacesNamed(CLI_NAME)) {
                    Guest.run("ndctl", "destroy-namespace", "--force", left);
                }
            }
        }
        print("create 960 MiB fsdax", create, cliCreate);
        print("delete (no erase)", delete, cliDestroy);
    }

    private static void eraseMethods(NdctlDeviceManager dm, int runs) throws Exception {
        PmemVolume v = dm.createVolume(new VolumeRequest("bench-erase", 1024 * MIB, 0, VolumeMode.FSDAX, false, Map.of()));
        List<Long> zeroout = new ArrayList<>();
        List<Long> direct = new ArrayList<>();
        try {
            // One untimed pass first: the first write to emulated PMEM also pays for the host's page allocation.
            new BlockDeviceEraser(BlockDeviceEraser.Method.ZEROOUT).erase(v.id(), v.devicePath());
            for (int i = 0; i < runs; i++) {
                // Alternate the order so that neither method always runs on a warmer cache.
                if (i % 2 == 0) {
                    zeroout.add(timeErase(v, BlockDeviceEraser.Method.ZEROOUT));
                    direct.add(timeErase(v, BlockDeviceEraser.Method.DIRECT_WRITE));
                } else {
                    direct.add(timeErase(v, BlockDeviceEraser.Method.DIRECT_WRITE));
                    zeroout.add(timeErase(v, BlockDeviceEraser.Method.ZEROOUT));
                }
            }
        } finally {
            dm.deleteVolume(v.id(), false);
        }
        System.out.printf("BENCH erase %d MiB: BLKZEROOUT median %.1f ms, O_DIRECT writes median %.1f ms (%d runs)%n",
                v.usableBytes() >> 20, Guest.percentile(zeroout, 50), Guest.percentile(direct, 50), runs);
    }

    private static long timeErase(PmemVolume v, BlockDeviceEraser.Method method) throws Exception {
        long t0 = System.nanoTime();
        new BlockDeviceEraser(method).erase(v.id(), v.devicePath());
        return System.nanoTime() - t0;
    }

    /** The namespaces (as ndctl names them, namespaceX.Y) allocated under this name. */
    private static List<String> namespacesNamed(String name) throws Exception {
        List<String> found = new ArrayList<>();
        for (NamespaceInfo ns : new LibNdctlBackend().regions().stream().flatMap(r -> r.namespaces().stream()).toList()) {
            if (ns.allocated() && ns.altName().equals(name)) {
                found.add(ns.devname());
            }
        }
        return found;
    }

    private static void print(String what, List<Long> ours, List<Long> cli) {
        double a = Guest.percentile(ours, 50);
        double b = Guest.percentile(cli, 50);
        System.out.printf("BENCH %s: device layer median %.1f ms, ndctl CLI median %.1f ms, ratio %.2f (%d runs; min/max ours %.1f/%.1f, cli %.1f/%.1f)%n",
                what, a, b, a / b, ours.size(), Collections.min(ours) / 1e6, Collections.max(ours) / 1e6,
                Collections.min(cli) / 1e6, Collections.max(cli) / 1e6);
    }
}
