package dev.pmemcsi.device.emulated;

import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.pmemnative.AtomicFile;
import dev.pmemcsi.pmemnative.Native;
import dev.pmemcsi.pmemnative.NativeException;
import dev.pmemcsi.pmemnative.OpenFlags;
import dev.pmemcsi.pmemnative.TrustedPaths;
import dev.pmemcsi.pmemnative.loop.LoopDevice;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import jnr.posix.FileStat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sparse files {@code <dir>/region<N>.img} that stand in for the PMEM regions: created or
 * grown to their configured size on start, never shrunk, and opened only when they are regular
 * files of the driver's own user.
 */
final class RegionFiles {

    private static final Logger LOG = LoggerFactory.getLogger(RegionFiles.class);

    private final Path dir;
    private final Map<String, Long> sizes;
    private volatile Map<String, RegionFile> files = Map.of();

    /** @param sizes region name to size, in region order */
    RegionFiles(Path dir, Map<String, Long> sizes) {
        this.dir = dir;
        this.sizes = sizes;
    }

    /** Region name to size, in region order. */
    Map<String, Long> sizes() {
        return sizes;
    }

    RegionFile get(String region) {
        return files.get(region);
    }

    Path path(String region) {
        return files.get(region).path();
    }

    Collection<RegionFile> all() {
        return files.values();
    }

    /** The region a loop device shows, or "" when it is over none of the files. */
    String regionOf(LoopDevice loop) {
        return files.values().stream().filter(f -> f.backs(loop)).map(RegionFile::name).findFirst().orElse("");
    }

    boolean anyExists() {
        for (int i = 0; i < sizes.size(); i++) {
            if (Files.exists(fileOf(i), LinkOption.NOFOLLOW_LINKS)) {
                return true;
            }
        }
        return false;
    }

    private Path fileOf(int index) {
        return dir.resolve("region" + index + ".img");
    }

    /** Creates missing region files, grows short ones, and refuses files that are not the driver's own. */
    void open() throws IOException, DeviceException, NativeException {
        Map<String, RegionFile> opened = new LinkedHashMap<>();
        int index = 0;
        for (Map.Entry<String, Long> e : sizes.entrySet()) {
            opened.put(e.getKey(), open(e.getKey(), fileOf(index++), e.getValue()));
        }
        files = Collections.unmodifiableMap(opened);
    }

    private RegionFile open(String region, Path file, long size) throws IOException, DeviceException, NativeException {
        boolean exists = Files.exists(file, LinkOption.NOFOLLOW_LINKS);
        if (exists) {
            TrustedPaths.requireOwnRegularFile(file, "region file");
        }
        int fd = Native.check(Native.libc().open(file.toString(), OpenFlags.O_RDWR | OpenFlags.O_CREAT
                | OpenFlags.O_NOFOLLOW | OpenFlags.O_CLOEXEC | (exists ? 0 : OpenFlags.O_EXCL), 0600), "open(" + file + ")");
        try {
            // What was opened, not what the path shows now: the file that is grown is the one checked.
            FileStat st = Native.posix().fstat(fd);
            if (!st.isFile() || st.uid() != Native.posix().geteuid()) {
                throw new TrustedPaths.UntrustedPathException("region file " + file
                        + " is not a regular file owned by the driver's user; refusing to use it");
            }
            long actual = st.st_size();
            if (actual > size) {
                throw new DeviceException(file + " is " + actual + " bytes but " + region + " is configured with "
                        + size + "; shrinking a region is not supported (restore the size, or delete the file together with "
                        + EmulatedDeviceManager.TABLE_FILE + " to start empty)");
            }
            if (actual < size) {
                // Sparse: the host pays only for what volumes write.
                Native.check(Native.posix().ftruncate(fd, size), "ftruncate(" + file + ")");
                Native.check(Native.libc().fsync(fd), "fsync(" + file + ")");
                if (exists) {
                    LOG.info("grew {} from {} to {} bytes", file, actual, size);
                } else {
                    AtomicFile.syncDirectory(dir);
                    LOG.info("created {} ({} bytes, sparse)", file, size);
                }
            }
            return new RegionFile(region, file, size, st.dev(), st.ino(), file.toRealPath().toString());
        } finally {
            Native.libc().close(fd);
        }
    }
}
