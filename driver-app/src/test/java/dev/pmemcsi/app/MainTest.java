package dev.pmemcsi.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

class MainTest {

    private record Run(int code, String out, String err) {}

    private static Run run(String... args) {
        CommandLine cl = Main.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void helpExplainsEveryFlag() {
        String help = Main.usageText();
        for (String flag : new String[] {"--endpoint", "--driver-name", "--node-id", "--mode", "--device-manager",
                "--state-dir", "--kubelet-dir", "--metrics-address", "--log-format", "--log-level", "--emulated-dir",
                "--emulated-regions", "--max-volumes-per-node", "--drain-timeout"}) {
            assertTrue(help.contains(flag), flag + " missing from --help");
        }
        Run r = run("--help");
        assertEquals(0, r.code());
        assertTrue(r.out().contains("--device-manager"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"--no-such-flag", "--mode=sideways", "--device-manager=lvm", "--log-format=xml",
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
