package dev.pmemcsi.bench.guest;

import dev.pmemcsi.app.observability.Logging;
import dev.pmemcsi.bench.Commands;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.ndctl.NdctlDeviceManager;
import java.io.IOException;
import java.util.List;

/** What the guest benchmarks share: the device layer on real NVDIMMs, the external tools, medians. */
final class Guest {

    /** How to get real NVDIMMs and libndctl: the guest of the end-to-end harness. */
    static final String HOW_TO_RUN = "run it inside the QEMU guest of the end-to-end harness: "
            + "sudo E2E_BENCHMARKS=1 tests/e2e/qemu/run.sh (docs/performance.md)";

    private Guest() {}

    /**
     * The device layer in direct mode, started; on a machine without libndctl or NVDIMMs, says so
     * and ends the program, as nothing can be measured there. The driver's INFO lines (one per
     * namespace) would drown the figures, so only warnings are logged.
     */
    static NdctlDeviceManager devices(String program, String driverName) {
        Logging.configure(Logging.Format.TEXT, "warn");
        NdctlDeviceManager dm = new NdctlDeviceManager(driverName);
        try {
            dm.start();
        } catch (DeviceException | RuntimeException | LinkageError e) {
            System.err.println(program + ": needs real NVDIMMs and libndctl, and this machine has none usable: "
                    + e.getMessage());
            System.err.println(program + ": " + HOW_TO_RUN);
            System.exit(2);
        }
        return dm;
    }

    /** The first argument as a positive count of runs, or {@code dflt}. */
    static int runs(String program, String[] args, int dflt) {
        if (args.length == 0) {
            return dflt;
        }
        try {
            int n = Integer.parseInt(args[0]);
            if (n > 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        System.err.println(program + ": usage: " + program + " [runs]; runs is a positive number, not \"" + args[0] + "\"");
        System.exit(2);
        return dflt;
    }

    /** Runs an external tool with an argument vector; returns its output, throws with it on failure. */
    static String run(String... argv) throws IOException, InterruptedException {
        return Commands.run(List.of(argv));
    }

    /** In milliseconds; nearest rank, and the mean of the two middle values for the median of an even count. */
    static double percentile(List<Long> nanos, int p) {
        List<Long> s = new java.util.ArrayList<>(nanos);
        s.sort(null);
        int n = s.size();
        if (p == 50) {
            return (n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2.0) / 1e6;
        }
        int rank = Math.max(1, (int) Math.ceil(p / 100.0 * n));
        return s.get(rank - 1) / 1e6;
    }
}
