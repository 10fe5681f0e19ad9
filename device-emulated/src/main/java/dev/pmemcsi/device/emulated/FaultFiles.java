package dev.pmemcsi.device.emulated;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Test-only fault injection through files in {@code <emulated-dir>/faults/}:
 * {@code <volume-id>.badblocks} holds a number of bad 512-byte blocks inside the volume, and
 * {@code <volume-id>.gone} makes the volume's device count as vanished. Real PMEM reports these
 * conditions through the kernel; the emulation has no other way to produce them.
 */
final class FaultFiles {

    static final String DIR = "faults";

    private static final Logger LOG = LoggerFactory.getLogger(FaultFiles.class);

    private final Path dir;

    FaultFiles(Path emulatedDir) {
        this.dir = emulatedDir.resolve(DIR);
    }

    Path badBlocksFile(String volumeId) {
        return dir.resolve(volumeId + ".badblocks");
    }

    Path goneFile(String volumeId) {
        return dir.resolve(volumeId + ".gone");
    }

    boolean gone(String volumeId) {
        return Files.exists(goneFile(volumeId));
    }

    /** The injected count, 0 without a file; -1 when the file cannot be understood. */
    long badBlocks(String volumeId) {
        Path f = badBlocksFile(volumeId);
        try {
            return Math.max(0, Long.parseLong(Files.readString(f).strip()));
        } catch (NoSuchFileException e) {
            return 0;
        } catch (IOException | NumberFormatException e) {
            LOG.warn("fault file {} is not a number of blocks: {}", f, e.toString());
            return -1;
        }
    }

    /** A deleted volume takes its faults with it, so a new volume with the same ID starts healthy. */
    void clear(String volumeId) {
        try {
            Files.deleteIfExists(badBlocksFile(volumeId));
            Files.deleteIfExists(goneFile(volumeId));
        } catch (IOException e) {
            LOG.warn("cannot remove fault files of {}: {}", volumeId, e.toString());
        }
    }
}
