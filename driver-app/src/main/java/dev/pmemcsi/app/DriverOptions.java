package dev.pmemcsi.app;

import dev.pmemcsi.app.cli.Command;
import dev.pmemcsi.app.observability.Logging;
import dev.pmemcsi.device.emulated.EmulatedDeviceManager;
import dev.pmemcsi.device.ndctl.RegionPreference;
import dev.pmemcsi.driver.DriverConfig;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** The driver's flags. Every flag has a default that suits a DaemonSet on a PMEM node. */
public final class DriverOptions {

    public enum Mode { controller, node, both }

    public enum DeviceManagerKind { ndctl, emulated, lvm }

    String endpoint = "unix:///var/lib/kubelet/plugins/" + DriverConfig.DEFAULT_DRIVER_NAME + "/csi.sock";
    String driverName = DriverConfig.DEFAULT_DRIVER_NAME;
    String nodeId;
    Mode mode = Mode.both;
    DeviceManagerKind deviceManager = DeviceManagerKind.ndctl;
    String regionPreference = "nvdimm";
    Path stateDir = Path.of("/var/lib/" + DriverConfig.DEFAULT_DRIVER_NAME);
    Path kubeletDir = Path.of("/var/lib/kubelet");
    Path emulatedDir;
    String emulatedRegions = "4Gi,4Gi";
    Path snapshotDir;
    String snapshotFreezeLimit = "2m";
    List<String> lvmDevices = List.of();
    int pmemPercentage = 100;
    Path lvmLockDir;
    String metricsAddress = "";
    Logging.Format logFormat = Logging.Format.TEXT;
    String logLevel = "info";
    long maxVolumesPerNode;
    String drainTimeout = "30s";
    int maxConcurrentCalls = 16;

    /**
     * The option table: every flag with its label, description and default (the field's initial
     * value above, unless the default is derived). Values that need more than a conversion are
     * checked by {@link #validate()}, which names the flag too.
     */
    void addTo(Command cmd) {
        cmd.option("--endpoint", "URL", "Where to serve CSI: unix:///path/csi.sock or tcp://host:port",
                v -> endpoint = v).defaultValue(endpoint);
        cmd.option("--driver-name", "NAME", "CSI driver name; also the prefix of the topology key NAME/node",
                v -> driverName = v).defaultValue(driverName);
        cmd.option("--node-id", "ID", "Kubernetes node this driver serves",
                v -> nodeId = v).defaultValue("$NODE_NAME, else the host name");
        cmd.option("--mode", "MODE", "Which CSI services to run: controller, node or both",
                v -> mode = Command.choice(Mode.class, v)).defaultValue(mode);
        cmd.option("--device-manager", "KIND", "Backend: ndctl (PMEM namespaces through libndctl), lvm (logical"
                        + " volumes on one fsdax namespace per region, docs/lvm.md) or emulated (loop devices over"
                        + " sparse files, no DAX)",
                v -> deviceManager = Command.choice(DeviceManagerKind.class, v)).defaultValue(deviceManager);
        cmd.option("--region-preference", "KIND", "Direct mode: which PMEM regions new volumes go to first when a"
                        + " node has both: nvdimm (NVDIMMs on an ACPI.NFIT bus), cxl (CXL memory regions) or none (the"
                        + " best-fitting region of any kind). The others are used only when no preferred region has"
                        + " room",
                v -> regionPreference = v).defaultValue(regionPreference);
        cmd.option("--state-dir", "DIR", "Directory for the driver's state; must be owned by root and not writable"
                        + " by others",
                v -> stateDir = Command.path(v)).defaultValue(stateDir);
        cmd.option("--kubelet-dir", "DIR", "Kubelet's root directory (its --root-dir). The node service stages and"
                        + " publishes only strictly below DIR/plugins/ and DIR/pods/, where kubelet puts staging and"
                        + " target paths; any other path is refused. Must exist when the node service starts",
                v -> kubeletDir = Command.path(v)).defaultValue(kubeletDir);
        cmd.option("--emulated-dir", "DIR", "Emulated mode: directory of the region files and the volume table",
                v -> emulatedDir = Command.path(v)).defaultValue("STATE-DIR/emulated");
        cmd.option("--emulated-regions", "SIZES", "Emulated mode: comma-separated region sizes as Kubernetes"
                        + " quantities",
                v -> emulatedRegions = v).defaultValue(emulatedRegions);
        cmd.option("--snapshot-dir", "DIR", "Where snapshot images and their metadata live, on the node's ordinary"
                        + " disk, not PMEM",
                v -> snapshotDir = Command.path(v)).defaultValue("STATE-DIR/snapshots");
        cmd.option("--snapshot-freeze-limit", "DURATION", "How long a staged filesystem may stay frozen while a"
                        + " snapshot or clone copies it; a copy that takes longer is thawed and fails",
                v -> snapshotFreezeLimit = v).defaultValue(snapshotFreezeLimit);
        cmd.option("--lvm-devices", "DEVICES", "LVM mode: comma-separated block devices to pool, e.g."
                        + " /dev/pmem0,/dev/pmem1; each becomes the physical volume of a volume group of the driver."
                        + " Devices of someone else's volume group or with a filesystem signature are left alone."
                        + " Repeatable; the lists add up",
                v -> lvmDevices = concat(lvmDevices, Command.commaList(v))).repeatable().defaultValue("none");
        cmd.option("--pmem-percentage", "PERCENT", "LVM mode: how much of each region to pool, 1-100; devices"
                        + " --lvm-devices names are pooled whole",
                v -> pmemPercentage = Command.intValue(v)).defaultValue(pmemPercentage);
        cmd.option("--lvm-lock-dir", "DIR", "LVM mode: lvm's locking directory. Every lvm command that may touch"
                        + " the driver's volume groups must use the same one; a DaemonSet mounts the host's"
                        + " /run/lock/lvm here",
                v -> lvmLockDir = Command.path(v)).defaultValue("STATE-DIR/lvm/lock");
        cmd.option("--metrics-address", "HOST:PORT", "Serve /metrics, /healthz and /readyz over HTTP here; empty"
                        + " turns it off",
                v -> metricsAddress = v).defaultValue("off");
        cmd.option("--log-format", "FORMAT", "Log format: text or json",
                v -> logFormat = Command.choice(Logging.Format.class, v)).defaultValue(logFormat);
        cmd.option("--log-level", "LEVEL", "Log level: error, warn, info, debug or trace",
                v -> logLevel = v).defaultValue(logLevel);
        cmd.option("--max-volumes-per-node", "N", "Reported to Kubernetes by NodeGetInfo; 0 means no limit",
                v -> maxVolumesPerNode = Command.longValue(v)).defaultValue(maxVolumesPerNode);
        cmd.option("--drain-timeout", "DURATION", "On SIGTERM, how long in-flight calls may finish, e.g. 30s or 2m",
                v -> drainTimeout = v).defaultValue(drainTimeout);
        cmd.option("--max-concurrent-calls", "N", "Threads serving CSI calls",
                v -> maxConcurrentCalls = Command.intValue(v)).defaultValue(maxConcurrentCalls).hidden();
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return List.copyOf(all);
    }

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
