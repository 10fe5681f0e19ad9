package dev.pmemcsi.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ClientCommandTest {

    private record Run(int code, String out, String err) {}

    private static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(List.of(args), new PrintWriter(out), new PrintWriter(err));
        return new Run(code, out.toString(), err.toString());
    }

    @ParameterizedTest
    @ValueSource(strings = {"info", "get-capacity", "list-volumes", "create-volume", "delete-volume", "stage", "unstage",
            "publish", "unpublish", "stats"})
    void everySubcommandExplainsItselfWithHelp(String subcommand) {
        Run r = run("client", subcommand, "--help");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("Usage: pmem-csi-driver client " + subcommand), r.out());
        assertTrue(r.out().contains("--endpoint"), "the inherited options are listed too: " + r.out());
        assertEquals("", r.err());
    }

    @Test
    void badCommandLinesGetOneLineAndExitCodeTwo() {
        for (List<String> args : List.of(List.of("client", "nonsense"), List.of("client", "stage", "vol-1"),
                List.of("client", "delete-volume"), List.of("client", "--timeout=soon", "info"),
                List.of("client", "info", "--staging-path=/x"), List.of("client", "get-capacity", "--param", "novalue"),
                List.of("clinet", "info"))) {
            Run r = run(args.toArray(String[]::new));
            assertEquals(2, r.code(), args + ": " + r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
            assertTrue(r.err().startsWith("pmem-csi-driver: "), r.err());
        }
        assertTrue(run("client", "stage", "vol-1").err().contains("missing required option --staging-path=DIR"));
    }

    @Test
    void withoutACommandTheUsageGoesToStderr() {
        Run r = run("client");
        assertEquals(2, r.code());
        assertEquals("", r.out());
        assertTrue(r.err().startsWith("Usage: pmem-csi-driver client [OPTIONS] [COMMAND]"), r.err());
        assertTrue(r.err().contains("create-volume"), r.err());
        Run help = run("client", "--help");
        assertEquals(0, help.code());
        assertEquals(r.err(), help.out());
    }

    /** --endpoint and --timeout may come before the command or among its options, as bin/demo and docs/client.md write them. */
    @Test
    void theCommonOptionsGoBeforeOrAfterTheCommand() throws IOException {
        Path dir = Files.createTempDirectory("pmem-csi-client-test");
        try {
            String endpoint = "unix://" + dir.resolve("csi.sock");
            for (Run r : List.of(run("client", "info", "--endpoint=" + endpoint, "--timeout=5"),
                    run("client", "--endpoint", endpoint, "list-volumes", "--timeout", "5"))) {
                assertEquals(1, r.code(), r.err());
                assertTrue(r.err().contains("cannot reach the driver at " + endpoint), r.err());
            }
        } finally {
            deleteTree(dir);
        }
    }

    @Test
    void aMissingSocketIsNamedWithTheCause() throws IOException {
        Path dir = Files.createTempDirectory("pmem-csi-client-test");
        try {
            String endpoint = "unix://" + dir.resolve("csi.sock");
            Run r = run("client", "--endpoint", endpoint, "--timeout", "5", "info");
            assertEquals(1, r.code());
            assertTrue(r.err().contains(endpoint), r.err());
            assertTrue(r.err().contains("no socket"), r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
        } finally {
            deleteTree(dir);
        }
    }

    @Test
    void aSocketNobodyListensOnIsNamedWithTheCause() throws IOException {
        Path dir = Files.createTempDirectory("pmem-csi-client-test");
        try {
            Path sock = dir.resolve("csi.sock");
            try (ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
                s.bind(UnixDomainSocketAddress.of(sock)); // closed at once: the file stays, nobody listens
            }
            String endpoint = "unix://" + sock;
            Run r = run("client", "--endpoint", endpoint, "--timeout", "5", "get-capacity");
            assertEquals(1, r.code());
            assertTrue(r.err().contains("cannot reach the driver at " + endpoint), r.err());
            assertTrue(r.err().toLowerCase().contains("refused"), r.err());
        } finally {
            deleteTree(dir);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }
}
