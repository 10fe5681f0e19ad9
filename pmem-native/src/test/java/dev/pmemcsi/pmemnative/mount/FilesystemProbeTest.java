package dev.pmemcsi.pmemnative.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.pmemnative.CommandFailedException;
import dev.pmemcsi.pmemnative.CommandRunner;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FilesystemProbeTest {

    @TempDir
    Path dir;

    /** Records what would have run, and answers as blkid does when it finds nothing. */
    private static final class RecordingRunner extends CommandRunner {
        final List<List<String>> calls = new ArrayList<>();

        @Override
        public Result runAllowingFailure(List<String> argv, Duration timeout) {
            calls.add(argv);
            return new Result(2, "", "");
        }
    }

    private Path image(long size, long markerAt) throws Exception {
        Path p = dir.resolve("dev-" + size + "-" + markerAt + ".img");
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
            if (markerAt >= 0) {
                f.seek(markerAt);
                f.write(0x53);
            }
        }
        return p;
    }

    @Test
    void aZeroedDeviceIsEmptyWithoutStartingBlkid() throws Exception {
        RecordingRunner runner = new RecordingRunner();
        assertTrue(new FilesystemProbe(runner).probe(image(64L << 20, -1)).isEmpty());
        assertEquals(List.of(), runner.calls);
    }

    @Test
    void anythingInTheHeadOrTailIsLeftToBlkid() throws Exception {
        long size = 64L << 20;
        int chunk = FilesystemProbe.READ_CHUNK;
        for (long at : new long[] {0, 1080, chunk - 1, chunk, (1 << 20) - chunk, (1 << 20) - 1, size - 512,
                size - chunk - 1, size - (1 << 20)}) {
            assertFalse(FilesystemProbe.headAndTailAreZero(image(size, at)), "byte at " + at);
        }
        // A size that is no multiple of the chunk: the last, short chunk of each end is read too.
        long odd = (3L << 20) + 4097;
        for (long at : new long[] {(1 << 20) - 1, odd - 1, odd - (1 << 20)}) {
            assertFalse(FilesystemProbe.headAndTailAreZero(image(odd, at)), "byte at " + at + " of " + odd);
        }
        assertTrue(FilesystemProbe.headAndTailAreZero(image(odd, 1 << 20)));
        RecordingRunner runner = new RecordingRunner();
        new FilesystemProbe(runner).probe(image(size, 1080));
        assertEquals(1, runner.calls.size());
    }

    @Test
    void tinyDevicesAndUnreadablePathsAreLeftToBlkid() throws Exception {
        assertTrue(FilesystemProbe.headAndTailAreZero(image(4096, -1)));
        assertFalse(FilesystemProbe.headAndTailAreZero(dir.resolve("missing")));
    }

    @Test
    void dataInTheMiddleDoesNotMatter() throws Exception {
        assertTrue(FilesystemProbe.headAndTailAreZero(image(64L << 20, 32L << 20)));
    }

    @Test
    void blkidFailuresStillSurface() throws Exception {
        CommandRunner failing = new CommandRunner() {
            @Override
            public Result runAllowingFailure(List<String> argv, Duration timeout) {
                return new Result(8, "", "");
            }
        };
        try {
            new FilesystemProbe(failing).probe(image(64L << 20, 0));
            throw new AssertionError("expected a failure");
        } catch (CommandFailedException expected) {
            assertTrue(expected.getMessage().contains("ambiguous"), expected.getMessage());
        }
    }
}
