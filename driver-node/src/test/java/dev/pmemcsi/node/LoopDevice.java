package dev.pmemcsi.node;

import dev.pmemcsi.pmemnative.CommandFailedException;
import dev.pmemcsi.pmemnative.CommandRunner;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** A loop device over a sparse file, for host tests; closing detaches it and deletes the file. */
final class LoopDevice implements AutoCloseable {

    private static final CommandRunner RUN = new CommandRunner();
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    final Path file;
    final Path device;

    private LoopDevice(Path file, Path device) {
        this.file = file;
        this.device = device;
    }

    static LoopDevice create(Path dir, String name, long bytes) throws IOException, CommandFailedException {
        Path file = dir.resolve(name + ".img");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(bytes);
        }
        String dev = RUN.run(List.of("losetup", "--find", "--show", file.toString()), TIMEOUT).stdout().strip();
        return new LoopDevice(file, Path.of(dev));
    }

    /** Whether the kernel still has a loop device over the file. */
    boolean attached() throws CommandFailedException {
        return !RUN.run(List.of("losetup", "-j", file.toString()), TIMEOUT).stdout().isBlank();
    }

    @Override
    public void close() throws IOException, CommandFailedException {
        if (attached()) {
            RUN.run(List.of("losetup", "-d", device.toString()), TIMEOUT);
        }
        Files.deleteIfExists(file);
    }

    static String run(String... argv) throws CommandFailedException {
        return RUN.run(List.of(argv), TIMEOUT).stdout();
    }
}
