package dev.pmemcsi.pmemnative.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.pmemnative.CommandFailedException;
import dev.pmemcsi.pmemnative.CommandRunner;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The in-process probe through libblkid against {@code blkid -p} itself, on images made by the
 * real tools: both must see the same content, so that the driver's never-reformat guarantee does
 * not depend on which of the two answered.
 */
class FilesystemProbeIT {

    private static final long MIB = 1024 * 1024;
    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    /** Counts the blkid processes the probe starts. */
    private static final class CountingRunner extends CommandRunner {
        final List<List<String>> calls = new ArrayList<>();

        @Override
        public Result runAllowingFailure(List<String> argv, Duration timeout) throws CommandFailedException {
            calls.add(argv);
            return super.runAllowingFailure(argv, timeout);
        }
    }

    @BeforeAll
    static void libraryIsThere() {
        assertTrue(BlkidProbe.available(), "libblkid (util-linux) should load on every host that has blkid");
    }

    private Path image(String name, long size) throws Exception {
        Path p = dir.resolve(name + ".img");
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
        }
        return p;
    }

    private static void run(String... argv) throws Exception {
        new CommandRunner().run(List.of(argv), TIMEOUT);
    }

    /** What both probes say, the library's with blkid's DEVNAME added, as the command prints it. */
    private static void assertSameContent(Path image) throws Exception {
        CountingRunner cli = new CountingRunner();
        FilesystemProbe.Content byCommand = new FilesystemProbe(cli).probe(image);
        assertEquals(1, cli.calls.size(), "blkid -p ran");
        CountingRunner none = new CountingRunner();
        FilesystemProbe.Content inProcess = FilesystemProbe.inProcess(none).probe(image);
        assertEquals(List.of(), none.calls, "no process for the in-process probe");
        Map<String, String> expected = new LinkedHashMap<>(byCommand.fields());
        expected.remove("DEVNAME");
        assertEquals(expected, inProcess.fields(), image.getFileName().toString());
    }

    @Test
    void ext4AndXfsAreSeenAlikeWithTheirUuids() throws Exception {
        Path ext4 = image("ext4", 64 * MIB);
        run("mkfs.ext4", "-q", "-F", ext4.toString());
        assertSameContent(ext4);
        assertEquals("ext4", FilesystemProbe.inProcess(new CommandRunner()).probe(ext4).type().orElseThrow());

        Path xfs = image("xfs", 320 * MIB);
        run("mkfs.xfs", "-q", "-f", xfs.toString());
        assertSameContent(xfs);
        assertEquals("xfs", FilesystemProbe.inProcess(new CommandRunner()).probe(xfs).type().orElseThrow());
    }

    @Test
    void aPartitionTableIsSeenAlike() throws Exception {
        // An MBR with one Linux partition, as fdisk writes it: disk identifier, one entry, 55 AA.
        Path mbr = image("mbr", 64 * MIB);
        ByteBuffer sector = ByteBuffer.allocate(512).order(ByteOrder.LITTLE_ENDIAN);
        sector.putInt(440, 0x1234abcd);
        sector.put(446 + 4, (byte) 0x83).putInt(446 + 8, 2048).putInt(446 + 12, 4096);
        sector.put(510, (byte) 0x55).put(511, (byte) 0xAA);
        try (RandomAccessFile f = new RandomAccessFile(mbr.toFile(), "rw")) {
            f.write(sector.array());
        }
        assertSameContent(mbr);
        assertEquals("dos", FilesystemProbe.inProcess(new CommandRunner()).probe(mbr).partitionTable().orElseThrow());
    }

    @Test
    void aWipedFilesystemIsNothingToBoth() throws Exception {
        // wipefs removes the magic only: the ends are not zero, so a probe must really look.
        Path wiped = image("wiped", 64 * MIB);
        run("mkfs.ext4", "-q", "-F", wiped.toString());
        run("wipefs", "-a", "-q", wiped.toString());
        assertFalse(FilesystemProbe.headAndTailAreZero(wiped));
        assertSameContent(wiped);
        assertTrue(FilesystemProbe.inProcess(new CommandRunner()).probe(wiped).isEmpty());
    }

    @Test
    void twoSignaturesAreRefusedByBoth() throws Exception {
        // An ext4 superblock copied into an xfs filesystem: blkid will not say which holds the data.
        Path ext4 = image("ext4", 64 * MIB);
        run("mkfs.ext4", "-q", "-F", ext4.toString());
        Path both = image("both", 320 * MIB);
        run("mkfs.xfs", "-q", "-f", both.toString());
        byte[] superblock = new byte[1024];
        try (RandomAccessFile from = new RandomAccessFile(ext4.toFile(), "r");
             RandomAccessFile to = new RandomAccessFile(both.toFile(), "rw")) {
            from.seek(1024);
            from.readFully(superblock);
            to.seek(1024);
            to.write(superblock);
        }
        CommandFailedException byCommand = assertThrows(CommandFailedException.class,
                () -> new FilesystemProbe(new CommandRunner()).probe(both));
        CommandFailedException inProcess = assertThrows(CommandFailedException.class,
                () -> FilesystemProbe.inProcess(new CommandRunner()).probe(both));
        assertEquals(8, byCommand.exitCode());
        assertEquals(byCommand.exitCode(), inProcess.exitCode());
        assertEquals("blkid failed with exit code 8: cannot tell what the device holds (blkid exit code 8: ambiguous,"
                + " more than one signature)", inProcess.getMessage());
    }

    @Test
    void aDeviceTheLibraryCannotOpenIsLeftToTheCommand() throws Exception {
        CountingRunner cli = new CountingRunner();
        Path missing = dir.resolve("missing.img");
        assertEquals(new FilesystemProbe(new CommandRunner()).probe(missing), FilesystemProbe.inProcess(cli).probe(missing));
        assertEquals(1, cli.calls.size(), "blkid -p ran and answered");
    }
}
