package dev.pmemcsi.app;

import dev.pmemcsi.app.observability.Logging;
import dev.pmemcsi.device.emulated.EmulatedDeviceManager;
import dev.pmemcsi.device.ndctl.RegionPreference;
import dev.pmemcsi.driver.DriverConfig;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import picocli.CommandLine.Option;

/** The driver's flags. Every flag has a default that suits a DaemonSet on a PMEM node. */
public final class DriverOptions {

    public enum Mode { controller, node, both }

    public enum DeviceManagerKind { ndctl, emulated, lvm }

    @Option(names = "--endpoint", paramLabel = "URL",
            description = "Where to serve CSI: unix:///path/csi.sock or tcp://host:port (default: ${DEFAULT-VALUE}).")
    String endpoint = "unix:///var/lib/kubelet/plugins/" + DriverConfig.DEFAULT_DRIVER_NAME + "/csi.sock";

    @Option(names = "--driver-name", paramLabel = "NAME",
            description = "CSI driver name; also the prefix of the topology key NAME/node (default: ${DEFAULT-VALUE}).")
    String driverName = DriverConfig.DEFAULT_DRIVER_NAME;

    @Option(names = "--node-id", paramLabel = "ID",
            description = "Kubernetes node this driver serves (default: $NODE_NAME, else the host name).")
    String nodeId;

    @Option(names = "--mode", paramLabel = "MODE",
            description = "Which CSI services to run: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    Mode mode = Mode.both;

    @Option(names = "--device-manager", paramLabel = "KIND",
            description = "Backend: ndctl (PMEM namespaces through libndctl), lvm (logical volumes on one fsdax"
                    + " namespace per region, docs/lvm.md) or emulated (loop devices over sparse files, no DAX)"
                    + " (default: ${DEFAULT-VALUE}).")
    DeviceManagerKind deviceManager = DeviceManagerKind.ndctl;

    @Option(names = "--region-preference", paramLabel = "KIND",
            description = "Direct mode: which PMEM regions new volumes go to first when a node has both: nvdimm"
                    + " (NVDIMMs on an ACPI.NFIT bus), cxl (CXL memory regions) or none (the best-fitting region of"
                    + " any kind). The others are used only when no preferred region has room (default: ${DEFAULT-VALUE}).")
    String regionPreference = "nvdimm";

    @Option(names = "--state-dir", paramLabel = "DIR",
            description = "Directory for the driver's state; must be owned by root and not writable by others"
                    + " (default: ${DEFAULT-VALUE}).")
    Path stateDir = Path.of("/var/lib/" + DriverConfig.DEFAULT_DRIVER_NAME);

    @Option(names = "--kubelet-dir", paramLabel = "DIR",
            description = "Kubelet's root directory (its --root-dir). The node service stages and publishes only"
                    + " strictly below DIR/plugins/ and DIR/pods/, where kubelet puts staging and target paths;"
                    + " any other path is refused. Must exist when the node service starts (default: ${DEFAULT-VALUE}).")
    Path kubeletDir = Path.of("/var/lib/kubelet");

    @Option(names = "--emulated-dir", paramLabel = "DIR",
            description = "Emulated mode: directory of the region files and the volume table (default: STATE-DIR/emulated).")
    Path emulatedDir;

    @Option(names = "--emulated-regions", paramLabel = "SIZES",
            description = "Emulated mode: comma-separated region sizes as Kubernetes quantities (default: ${DEFAULT-VALUE}).")
    String emulatedRegions = "4Gi,4Gi";

    @Option(names = "--snapshot-dir", paramLabel = "DIR",
            description = "Where snapshot images and their metadata live, on the node's ordinary disk, not PMEM"
                    + " (default: STATE-DIR/snapshots).")
    Path snapshotDir;

    @Option(names = "--snapshot-freeze-limit", paramLabel = "DURATION",
            description = "How long a staged filesystem may stay frozen while a snapshot or clone copies it; a copy"
                    + " that takes longer is thawed and fails (default: ${DEFAULT-VALUE}).")
    String snapshotFreezeLimit = "2m";

    @Option(names = "--lvm-devices", paramLabel = "DEVICES", split = ",",
            description = "LVM mode: comma-separated block devices to pool, e.g. /dev/pmem0,/dev/pmem1; each becomes the"
                    + " physical volume of a volume group of the driver. Devices of someone else's volume group or with a"
                    + " filesystem signature are left alone (default: none).")
    List<String> lvmDevices = List.of();

    @Option(names = "--pmem-percentage", paramLabel = "PERCENT",
            description = "LVM mode: how much of each region to pool, 1-100; devices --lvm-devices names are pooled whole"
                    + " (default: ${DEFAULT-VALUE}).")
    int pmemPercentage = 100;

    @Option(names = "--lvm-lock-dir", paramLabel = "DIR",
            description = "LVM mode: lvm's locking directory. Every lvm command that may touch the driver's volume groups"
                    + " must use the same one; a DaemonSet mounts the host's /run/lock/lvm here"
                    + " (default: STATE-DIR/lvm/lock).")
    Path lvmLockDir;

    @Option(names = "--metrics-address", paramLabel = "HOST:PORT",
            description = "Serve /metrics, /healthz and /readyz over HTTP here; empty turns it off (default: off).")
    String metricsAddress = "";

    @Option(names = "--log-format", paramLabel = "FORMAT",
            description = "Log format: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    Logging.Format logFormat = Logging.Format.TEXT;

    @Option(names = "--log-level", paramLabel = "LEVEL",
            description = "Log level: error, warn, info, debug or trace (default: ${DEFAULT-VALUE}).")
    String logLevel = "info";

    @Option(names = "--max-volumes-per-node", paramLabel = "N",
            description = "Reported to Kubernetes by NodeGetInfo; 0 means no limit (default: ${DEFAULT-VALUE}).")
    long maxVolumesPerNode;

    @Option(names = "--drain-timeout", paramLabel = "DURATION",
            description = "On SIGTERM, how long in-flight calls may finish, e.g. 30s or 2m (default: ${DEFAULT-VALUE}).")
    String drainTimeout = "30s";

    @Option(names = "--max-concurrent-calls", paramLabel = "N", hidden = true,
            description = "Threads serving CSI calls (default: ${DEFAULT-VALUE}).")
    int maxConcurrentCalls = 16;

    /**
     * Checks every value that can be wrong before the driver creates anything, and names the flag
     * in the error: a refused start leaves no directory behind.
     */
    void validate() {
        check("--endpoint", () -> Endpoint.parse(endpoint));
        check("--drain-timeout", this::drainTimeout);
        check("--snapshot-freeze-limit", this::snapshotFreezeLimit);
        check("--log-level", () -> Logging.parseLevel(logLevel));
        if (deviceManager == DeviceManagerKind.emulated) {
            check("--emulated-regions", () -> EmulatedDeviceManager.parseRegionSizes(emulatedRegions));
        }
        check("--region-preference", this::regionPreference);
        check("--pmem-percentage", () -> {
            if (pmemPercentage < 1 || pmemPercentage > 100) {
                throw new IllegalArgumentException(pmemPercentage + " is not a percentage from 1 to 100");
            }
        });
        if (deviceManager == DeviceManagerKind.lvm) {
            check("--lvm-devices", () -> DeviceManagers.poolDevices(this));
            check("--lvm-lock-dir", () -> DeviceManagers.lvmConfig(this));
        }
        check("--node-id", this::nodeId);
    }

    private static void check(String flag, Runnable parse) {
        try {
            parse.run();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(flag + ": " + e.getMessage(), e);
        }
    }

    RegionPreference regionPreference() {
        return RegionPreference.parse(regionPreference);
    }

    Path emulatedDir() {
        return emulatedDir != null ? emulatedDir : stateDir.resolve("emulated");
    }

    Path snapshotDir() {
        return snapshotDir != null ? snapshotDir : stateDir.resolve("snapshots");
    }

    Duration snapshotFreezeLimit() {
        Duration d = parseDuration(snapshotFreezeLimit);
        if (d.isZero() || d.isNegative()) {
            throw new IllegalArgumentException("must be positive, not " + snapshotFreezeLimit);
        }
        return d;
    }

    /** LVM mode's directory: its lock directory (unless --lvm-lock-dir names another) and metadata backups. */
    Path lvmDir() {
        return stateDir.resolve("lvm");
    }

    String nodeId() {
        if (nodeId != null && !nodeId.isBlank()) {
            return nodeId;
        }
        String env = System.getenv("NODE_NAME");
        if (env != null && !env.isBlank()) {
            return env;
        }
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("not set, NODE_NAME is empty and the host name is unknown");
        }
    }

    Duration drainTimeout() {
        return parseDuration(drainTimeout);
    }

    static Duration parseDuration(String text) {
        String t = text.strip();
        try {
            if (t.endsWith("ms")) {
                return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
            }
            if (t.endsWith("s")) {
                return Duration.ofSeconds(Long.parseLong(t.substring(0, t.length() - 1)));
            }
            if (t.endsWith("m")) {
                return Duration.ofMinutes(Long.parseLong(t.substring(0, t.length() - 1)));
            }
        } catch (NumberFormatException e) {
            // fall through to the error below
        }
        throw new IllegalArgumentException("\"" + text + "\" is not a duration such as 30s, 500ms or 2m");
    }
}
