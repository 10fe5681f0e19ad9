package dev.pmemcsi.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.app.cli.Command;
import dev.pmemcsi.app.cli.UsageException;
import dev.pmemcsi.app.observability.Logging;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The driver's option table: every flag, both value forms, the defaults and the refusals. */
class DriverOptionsTest {

    /** Every option with the default --help shows for it, in the table's order. */
    private static final List<List<String>> OPTIONS = List.of(
            List.of("--endpoint", "unix:///var/lib/kubelet/plugins/pmem-csi.dev/csi.sock"),
            List.of("--driver-name", "pmem-csi.dev"),
            List.of("--node-id", "$NODE_NAME, else the host name"),
            List.of("--mode", "both"),
            List.of("--device-manager", "ndctl"),
            List.of("--region-preference", "nvdimm"),
            List.of("--state-dir", "/var/lib/pmem-csi.dev"),
            List.of("--kubelet-dir", "/var/lib/kubelet"),
            List.of("--emulated-dir", "STATE-DIR/emulated"),
            List.of("--emulated-regions", "4Gi,4Gi"),
            List.of("--snapshot-dir", "STATE-DIR/snapshots"),
            List.of("--snapshot-freeze-limit", "2m"),
            List.of("--lvm-devices", "none"),
            List.of("--pmem-percentage", "100"),
            List.of("--lvm-lock-dir", "STATE-DIR/lvm/lock"),
            List.of("--metrics-address", "off"),
            List.of("--log-format", "text"),
            List.of("--log-level", "info"),
            List.of("--max-volumes-per-node", "0"),
            List.of("--drain-timeout", "30s"));

    private static DriverOptions parse(String... args) throws UsageException {
        DriverOptions options = new DriverOptions();
        Command cmd = new Command("pmem-csi-driver", "test");
        options.addTo(cmd);
        assertEquals(List.of(), cmd.parse(List.of(args)));
        return options;
    }

    private static String error(String... args) {
        return assertThrows(UsageException.class, () -> parse(args)).getMessage();
    }

    @Test
    void defaults() throws UsageException {
        DriverOptions o = parse();
        assertEquals("unix:///var/lib/kubelet/plugins/pmem-csi.dev/csi.sock", o.endpoint);
        assertEquals("pmem-csi.dev", o.driverName);
        assertNull(o.nodeId);
        assertEquals(DriverOptions.Mode.both, o.mode);
        assertEquals(DriverOptions.DeviceManagerKind.ndctl, o.deviceManager);
        assertEquals("nvdimm", o.regionPreference);
        assertEquals(Path.of("/var/lib/pmem-csi.dev"), o.stateDir);
        assertEquals(Path.of("/var/lib/kubelet"), o.kubeletDir);
        assertEquals(Path.of("/var/lib/pmem-csi.dev/emulated"), o.emulatedDir());
        assertEquals("4Gi,4Gi", o.emulatedRegions);
        assertEquals(Path.of("/var/lib/pmem-csi.dev/snapshots"), o.snapshotDir());
        assertEquals(Duration.ofMinutes(2), o.snapshotFreezeLimit());
        assertEquals(List.of(), o.lvmDevices);
        assertEquals(100, o.pmemPercentage);
        assertNull(o.lvmLockDir);
        assertEquals(Path.of("/var/lib/pmem-csi.dev/lvm"), o.lvmDir());
        assertEquals("", o.metricsAddress);
        assertEquals(Logging.Format.TEXT, o.logFormat);
        assertEquals("info", o.logLevel);
        assertEquals(0, o.maxVolumesPerNode);
        assertEquals(Duration.ofSeconds(30), o.drainTimeout());
        assertEquals(16, o.maxConcurrentCalls);
    }

    @Test
    void everyOptionInBothForms() throws UsageException {
        List<String> values = List.of("--endpoint", "tcp://127.0.0.1:9000", "--driver-name", "other.dev",
                "--node-id", "node-7", "--mode", "node", "--device-manager", "lvm", "--region-preference", "cxl",
                "--state-dir", "/s", "--kubelet-dir", "/k", "--emulated-dir", "/e", "--emulated-regions", "1Gi",
                "--snapshot-dir", "/snap", "--snapshot-freeze-limit", "10s", "--lvm-devices", "/dev/pmem0,/dev/pmem1",
                "--pmem-percentage", "50", "--lvm-lock-dir", "/run/lock/lvm", "--metrics-address", ":10010",
                "--log-format", "json", "--log-level", "debug", "--max-volumes-per-node", "12",
                "--drain-timeout", "5s", "--max-concurrent-calls", "4");
        List<String> attached = new ArrayList<>();
        for (int i = 0; i < values.size(); i += 2) {
            attached.add(values.get(i) + "=" + values.get(i + 1));
        }
        for (DriverOptions o : List.of(parse(values.toArray(String[]::new)), parse(attached.toArray(String[]::new)))) {
            assertEquals("tcp://127.0.0.1:9000", o.endpoint);
            assertEquals("other.dev", o.driverName);
            assertEquals("node-7", o.nodeId());
            assertEquals(DriverOptions.Mode.node, o.mode);
            assertEquals(DriverOptions.DeviceManagerKind.lvm, o.deviceManager);
            assertEquals("cxl", o.regionPreference);
            assertEquals(Path.of("/s"), o.stateDir);
            assertEquals(Path.of("/k"), o.kubeletDir);
            assertEquals(Path.of("/e"), o.emulatedDir());
            assertEquals("1Gi", o.emulatedRegions);
            assertEquals(Path.of("/snap"), o.snapshotDir());
            assertEquals(Duration.ofSeconds(10), o.snapshotFreezeLimit());
            assertEquals(List.of("/dev/pmem0", "/dev/pmem1"), o.lvmDevices);
            assertEquals(50, o.pmemPercentage);
            assertEquals(Path.of("/run/lock/lvm"), o.lvmLockDir);
            assertEquals(":10010", o.metricsAddress);
            assertEquals(Logging.Format.JSON, o.logFormat);
            assertEquals("debug", o.logLevel);
            assertEquals(12, o.maxVolumesPerNode);
            assertEquals(Duration.ofSeconds(5), o.drainTimeout());
            assertEquals(4, o.maxConcurrentCalls);
        }
    }

    /** The forms the DaemonSet, the overlays, the tests and the docs use. */
    @Test
    void theFormsDeploymentsUse() throws UsageException {
        DriverOptions o = parse("--device-manager=lvm", "--log-format=json", "--mode=both",
                "--lvm-devices=/dev/pmem0", "--lvm-devices", "/dev/pmem1,/dev/pmem2", "--node-id=$(NODE_NAME)");
        assertEquals(DriverOptions.DeviceManagerKind.lvm, o.deviceManager);
        assertEquals(Logging.Format.JSON, o.logFormat);
        assertEquals(List.of("/dev/pmem0", "/dev/pmem1", "/dev/pmem2"), o.lvmDevices, "repeated lists add up");
        assertEquals("$(NODE_NAME)", o.nodeId);
        assertEquals(DriverOptions.Mode.controller, parse("--mode=CONTROLLER").mode, "enum values ignore case");
        assertEquals(List.of(""), parse("--lvm-devices=").lvmDevices, "left for validate() to refuse");
        assertEquals("", parse("--emulated-regions=").emulatedRegions, "left for validate() to refuse");
    }

    @Test
    void unknownOptionsAreRefused() {
        assertEquals("unknown option --sysfs-root", error("--sysfs-root=/sys"));
        assertEquals("unknown option --device", error("--device", "lvm"), "no abbreviations");
        assertEquals("unexpected argument 'lvm'", error("lvm"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"--endpoint", "--mode", "--state-dir", "--lvm-devices", "--pmem-percentage", "--drain-timeout"})
    void aMissingValueIsRefused(String option) {
        assertTrue(error(option).startsWith("option " + option + " needs a value: " + option + "="));
        assertTrue(error(option, "--node-id=n").startsWith("option " + option + " needs a value"),
                "the next option is not taken as the value");
    }

    @Test
    void badNumbersAndChoicesNameTheirOption() {
        assertEquals("--pmem-percentage: 'half' is not a whole number", error("--pmem-percentage=half"));
        assertEquals("--max-volumes-per-node: 'many' is not a whole number", error("--max-volumes-per-node", "many"));
        assertEquals("--max-concurrent-calls: '' is not a whole number", error("--max-concurrent-calls="));
        assertEquals("--mode: 'sideways' is not one of controller, node, both", error("--mode=sideways"));
        assertEquals("--device-manager: 'zfs' is not one of ndctl, emulated, lvm", error("--device-manager=zfs"));
        assertEquals("--log-format: 'xml' is not one of text, json", error("--log-format=xml"));
    }

    /** Durations and ranges are checked by validate() after parsing, which names the flag as well. */
    @ParameterizedTest
    @ValueSource(strings = {"--drain-timeout=soon", "--drain-timeout=30", "--snapshot-freeze-limit=0s",
            "--snapshot-freeze-limit=1h", "--pmem-percentage=0", "--region-preference=dram"})
    void badDurationsAndRangesNameTheirOption(String arg) throws UsageException {
        DriverOptions o = parse(arg, "--node-id=n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, o::validate);
        assertTrue(e.getMessage().startsWith(arg.substring(0, arg.indexOf('=')) + ": "), e.getMessage());
    }

    @Test
    void aSingleValuedOptionGivenTwiceIsRefused() {
        assertEquals("option --mode is given more than once", error("--mode=node", "--mode", "controller"));
    }

    @Test
    void helpListsEveryOptionWithItsDefault() {
        String help = Main.usageText();
        assertTrue(help.startsWith("Usage: pmem-csi-driver [OPTIONS] [COMMAND]\n"), help);
        for (List<String> option : OPTIONS) {
            String name = option.get(0);
            int at = help.indexOf("\n  " + name + "=");
            assertTrue(at >= 0, name + " missing from --help:\n" + help);
            int end = help.indexOf("\n  -", at + 1);
            String entry = help.substring(at, end).replaceAll("\\s+", " ");
            assertTrue(entry.contains("(default: " + option.get(1) + ")."), entry);
        }
        assertFalse(help.contains("--max-concurrent-calls"), "a hidden option stays out of --help");
        for (String standard : List.of("-h, --help", "-V, --version", "client ")) {
            assertTrue(help.contains(standard), standard + " missing from --help");
        }
        long listed = help.lines().filter(l -> l.startsWith("  --")).count();
        assertEquals(OPTIONS.size(), listed, "an option of the table missing from this test:\n" + help);
    }

    @Test
    void helpGoesToStdoutWithExitCodeZero() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        assertEquals(0, Main.run(List.of("--help"), new PrintWriter(out), new PrintWriter(err)));
        assertEquals(Main.usageText(), out.toString());
        assertEquals("", err.toString());
        StringWriter before = new StringWriter();
        assertEquals(0, Main.run(List.of("--help", "client"), new PrintWriter(before), new PrintWriter(err)));
        assertEquals(Main.usageText(), before.toString(), "--help before the command is the driver's");
    }
}
