package dev.pmemcsi.nativeio.mount;

import dev.pmemcsi.nativeio.CommandFailedException;
import dev.pmemcsi.nativeio.CommandRunner;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What a block device holds, from {@code blkid -p} (low-level probing that reads the device itself
 * and ignores the blkid cache, so a filesystem made a moment ago is seen).
 */
public final class FilesystemProbe {

    /** blkid's exit code when it found nothing. */
    private static final int NOTHING_FOUND = 2;
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    /**
     * The result of a probe.
     *
     * @param fields every {@code KEY=value} blkid printed, e.g. TYPE, UUID, PTTYPE
     */
    public record Content(Map<String, String> fields) {
        public Content {
            fields = Map.copyOf(fields);
        }

        public static final Content EMPTY = new Content(Map.of());

        public boolean isEmpty() {
            return fields.get("TYPE") == null && fields.get("PTTYPE") == null;
        }

        /** The filesystem (or other content) type, e.g. {@code ext4}, {@code swap}. */
        public Optional<String> type() {
            return Optional.ofNullable(fields.get("TYPE"));
        }

        /** A partition table type such as {@code gpt}, when the device holds one instead of a filesystem. */
        public Optional<String> partitionTable() {
            return Optional.ofNullable(fields.get("PTTYPE"));
        }

        /** Human description, for error messages. */
        public String describe() {
            if (type().isPresent()) {
                return "a " + type().get() + " signature";
            }
            if (partitionTable().isPresent()) {
                return "a " + partitionTable().get() + " partition table";
            }
            return "no known signature";
        }
    }

    private final CommandRunner runner;

    public FilesystemProbe(CommandRunner runner) {
        this.runner = runner;
    }

    public static List<String> argv(Path device) {
        return List.of("blkid", "-p", "-o", "export", device.toString());
    }

    /**
     * Probes {@code device}. An ambiguous result (two signatures) fails: the caller must never
     * guess which one holds data.
     */
    public Content probe(Path device) throws CommandFailedException {
        List<String> argv = argv(device);
        CommandRunner.Result r = runner.runAllowingFailure(argv, TIMEOUT);
        if (r.exitCode() == NOTHING_FOUND) {
            return Content.EMPTY;
        }
        if (r.exitCode() != 0) {
            throw new CommandFailedException(argv, r.exitCode(), r.stderr().isBlank()
                    ? "cannot tell what the device holds (blkid exit code " + r.exitCode()
                      + (r.exitCode() == 8 ? ": ambiguous, more than one signature" : "") + ")"
                    : r.stderr());
        }
        return parseExport(r.stdout());
    }

    /** Parses {@code -o export} output: one {@code KEY=value} per line. */
    public static Content parseExport(String text) {
        Map<String, String> fields = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                fields.put(line.substring(0, eq).strip(), line.substring(eq + 1).strip());
            }
        }
        return new Content(fields);
    }
}
