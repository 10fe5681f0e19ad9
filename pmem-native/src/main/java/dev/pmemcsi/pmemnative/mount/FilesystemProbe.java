package dev.pmemcsi.pmemnative.mount;

import dev.pmemcsi.pmemnative.BlockDevice;
import dev.pmemcsi.pmemnative.CommandFailedException;
import dev.pmemcsi.pmemnative.CommandRunner;
import dev.pmemcsi.pmemnative.NativeException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What a block device holds, from {@code blkid -p} (low-level probing that reads the device itself
 * and ignores the blkid cache, so a filesystem made a moment ago is seen).
 *
 * <p>A device whose first and last MiB read as zeros holds no signature blkid knows: filesystems,
 * partition tables, RAID, LVM and crypto headers all keep theirs there. New volumes are zeroed
 * there by the device layer, so the common case of a first stage is answered by reading 2 MiB
 * instead of starting a process. Otherwise {@link #inProcess} probes through libblkid, the
 * library behind {@code blkid -p}, with the command's settings ({@link BlkidProbe}); the command
 * itself runs where the library is missing or cannot open the device, and for probes made
 * {@linkplain #FilesystemProbe(CommandRunner) with a runner only}.
 */
public final class FilesystemProbe {

    /** blkid's exit code when it found nothing. */
    private static final int NOTHING_FOUND = 2;
    /** blkid's exit code when it found more than one signature. */
    private static final int AMBIVALENT = 8;
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
    private final boolean library;

    /** Probes with {@code blkid -p} through {@code runner}. */
    public FilesystemProbe(CommandRunner runner) {
        this(runner, false);
    }

    private FilesystemProbe(CommandRunner runner, boolean library) {
        this.runner = runner;
        this.library = library;
    }

    /** Probes through libblkid in this process, and with {@code blkid -p} where that cannot. */
    public static FilesystemProbe inProcess(CommandRunner runner) {
        return new FilesystemProbe(runner, true);
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
        if (headAndTailAreZero(device)) {
            return Content.EMPTY;
        }
        if (library) {
            Optional<BlkidProbe.Result> probed = BlkidProbe.probe(device);
            if (probed.isPresent()) {
                return switch (probed.get().outcome()) {
                    case NOTHING -> Content.EMPTY;
                    case FOUND -> new Content(probed.get().fields());
                    // As blkid -p reports it: exit code 8.
                    case AMBIVALENT -> throw new CommandFailedException(argv, AMBIVALENT,
                            "cannot tell what the device holds (blkid exit code 8: ambiguous, more than one signature)");
                };
            }
        }
        CommandRunner.Result r = runner.runAllowingFailure(argv, TIMEOUT);
        if (r.exitCode() == NOTHING_FOUND) {
            return Content.EMPTY;
        }
        if (r.exitCode() != 0) {
            throw new CommandFailedException(argv, r.exitCode(), r.stderr().isBlank()
                    ? "cannot tell what the device holds (blkid exit code " + r.exitCode()
                      + (r.exitCode() == AMBIVALENT ? ": ambiguous, more than one signature" : "") + ")"
                    : r.stderr());
        }
        return parseExport(r.stdout());
    }

    /** Where signatures live: the first and the last MiB of a device. */
    static final int SIGNATURE_AREA = 1024 * 1024;

    /**
     * How much is read at a time. Each probe holds one buffer of this size, so ten concurrent
     * NodeStage calls hold 640 KiB of direct memory instead of the 10 MiB a buffer of the whole
     * area took (direct buffers are freed only after a garbage collection).
     */
    static final int READ_CHUNK = 64 * 1024;

    /** False whenever it cannot tell, so that blkid decides. */
    static boolean headAndTailAreZero(Path device) {
        try (FileChannel ch = FileChannel.open(device, StandardOpenOption.READ)) {
            long size = Files.isRegularFile(device) ? ch.size() : BlockDevice.sizeOf(device);
            ByteBuffer buf = ByteBuffer.allocateDirect(READ_CHUNK);
            return isZero(ch, buf, 0, Math.min(size, SIGNATURE_AREA))
                    && isZero(ch, buf, Math.max(0, size - SIGNATURE_AREA), Math.min(size, SIGNATURE_AREA));
        } catch (IOException | NativeException e) {
            return false;
        }
    }

    private static boolean isZero(FileChannel ch, ByteBuffer buf, long offset, long length) throws IOException {
        for (long done = 0; done < length; ) {
            buf.clear().limit((int) Math.min(buf.capacity(), length - done));
            while (buf.hasRemaining()) {
                if (ch.read(buf, offset + done + buf.position()) < 0) {
                    return false;
                }
            }
            done += buf.position();
            buf.flip();
            while (buf.remaining() >= Long.BYTES) {
                if (buf.getLong() != 0) {
                    return false;
                }
            }
            while (buf.hasRemaining()) {
                if (buf.get() != 0) {
                    return false;
                }
            }
        }
        return true;
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
