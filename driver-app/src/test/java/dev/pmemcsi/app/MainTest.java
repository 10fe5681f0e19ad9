package dev.pmemcsi.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class MainTest {

    private record Run(int code, String out, String err) {}

    private static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(List.of(args), new PrintWriter(out), new PrintWriter(err));
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void helpExplainsEveryFlag() {
        String help = Main.usageText();
        for (String flag : new String[] {"--endpoint", "--driver-name", "--node-id", "--mode", "--device-manager",
                "--state-dir", "--kubelet-dir", "--metrics-address", "--log-format", "--log-level", "--emulated-dir",
                "--emulated-regions", "--lvm-devices", "--pmem-percentage", "--lvm-lock-dir", "--max-volumes-per-node",
                "--drain-timeout", "--region-preference"}) {
            assertTrue(help.contains(flag), flag + " missing from --help");
        }
        Run r = run("--help");
        assertEquals(0, r.code());
        assertTrue(r.out().contains("--device-manager"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"--no-such-flag", "--mode=sideways", "--device-manager=zfs", "--log-format=xml",
            "--max-volumes-per-node=many"})
    void badFlagsGetOneLineAndExitCodeTwo(String flag) {
        Run r = run(flag);
        assertEquals(2, r.code());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().startsWith("pmem-csi-driver: "), r.err());
    }

    @Test
    void badValuesCaughtAfterParsingAlsoGetOneLine() {
        Run r = run("--endpoint=http://nowhere", "--state-dir=/tmp/pmem-csi-main-test-unused");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("unix:// or tcp://"), r.err());
        r = run("--log-level=loud");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("unknown log level"), r.err());
    }

    /** A value that cannot work is refused naming its flag, before anything is created on disk. */
    @ParameterizedTest
    @ValueSource(strings = {"--emulated-regions=4Qi", "--emulated-regions=", "--drain-timeout=soon",
            "--endpoint=http://nowhere", "--log-level=loud", "--region-preference=dram"})
    void badValuesNameTheirFlagAndCreateNothing(String flag) throws IOException {
        Path base = Files.createTempDirectory("pmem-csi-main-test");
        try {
            Path state = base.resolve("state");
            List<String> args = new ArrayList<>(List.of("--device-manager=emulated", "--state-dir=" + state, "--node-id=n"));
            if (!flag.startsWith("--endpoint=")) {
                args.add("--endpoint=unix://" + base.resolve("sock").resolve("csi.sock"));
            }
            args.add(flag);
            Run r = run(args.toArray(String[]::new));
            assertEquals(2, r.code(), r.err());
            String name = flag.substring(0, flag.indexOf('='));
            assertTrue(r.err().startsWith("pmem-csi-driver: " + name + ": "), r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
            assertFalse(Files.exists(state), "a refused start created " + state);
            assertFalse(Files.exists(base.resolve("sock")), "a refused start created the socket dir");
        } finally {
            deleteTree(base);
        }
    }

    /** LVM mode's flags are checked before anything is created, like the others. */
    @ParameterizedTest
    @ValueSource(strings = {"--pmem-percentage=0", "--pmem-percentage=101", "--lvm-devices=pmem0",
            "--lvm-lock-dir=/run/lock/lvm dir", "--lvm-devices="})
    void lvmFlagsAreCheckedBeforeAnythingIsCreated(String flag) throws IOException {
        Path base = Files.createTempDirectory("pmem-csi-main-test");
        try {
            Path state = base.resolve("state");
            List<String> args = new ArrayList<>(List.of("--device-manager=lvm", "--state-dir=" + state, "--node-id=n",
                    "--endpoint=unix://" + base.resolve("sock").resolve("csi.sock")));
            if (!flag.startsWith("--lvm-devices")) {
                args.add("--lvm-devices=/dev/pmem0");
            }
            args.add(flag);
            Run r = run(args.toArray(String[]::new));
            assertEquals(2, r.code(), r.err());
            String name = flag.substring(0, flag.indexOf('='));
            assertTrue(r.err().startsWith("pmem-csi-driver: " + name + ": "), r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
            assertFalse(Files.exists(state), "a refused start created " + state);
        } finally {
            deleteTree(base);
        }
    }

    /**
     * A start that fails after the checks (here: the socket path is a regular file) removes the
     * directories it created and does not pretend that a signal came.
     */
    @Test
    void aFailedStartRemovesWhatItCreated() throws IOException {
        Path base = Files.createTempDirectory("pmem-csi-main-test");
        try {
            Path sockDir = Files.createDirectories(base.resolve("sock"));
            Files.writeString(sockDir.resolve("csi.sock"), "not a socket");
            Path state = base.resolve("new").resolve("state");
            Path kubelet = Files.createDirectories(base.resolve("kubelet"));
            Run r = run("--device-manager=emulated", "--emulated-regions=64Mi", "--state-dir=" + state,
                    "--endpoint=unix://" + sockDir.resolve("csi.sock"), "--node-id=n", "--kubelet-dir=" + kubelet);
            assertEquals(1, r.code(), r.err());
            assertFalse(Files.exists(base.resolve("new")), "the failed start left " + base.resolve("new"));
            assertEquals("not a socket", Files.readString(sockDir.resolve("csi.sock")), "a path it did not create is kept");
            assertFalse(Driver.drainsOnExit(), "no drain is announced at exit after a failed start");
        } finally {
            deleteTree(base);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }

    @Test
    void versionComesFromTheBuild() {
        Run r = run("--version");
        assertEquals(0, r.code());
        assertTrue(r.out().startsWith("pmem-csi-driver "), r.out());
    }

    @Test
    void durations() {
        assertEquals(30, DriverOptions.parseDuration("30s").toSeconds());
        assertEquals(120, DriverOptions.parseDuration("2m").toSeconds());
        assertEquals(250, DriverOptions.parseDuration("250ms").toMillis());
    }
}
