package dev.pmemcsi.device.emulated;

import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.UnmanagedExtent;
import dev.pmemcsi.pmemnative.NativeException;
import dev.pmemcsi.pmemnative.RegularFile;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The namespace table rebuilt from the labels at the start of each volume's extent, when
 * {@code volumes.json} is lost or damaged. Region space that no label accounts for must be zero:
 * anything else may be a volume's data (one created before extents were labelled, or whose label
 * was damaged), and handing it out would give that data to a new volume. Such data stops the
 * start unless the operator consented to its erasure with
 * {@link EmulatedDeviceManager#ERASE_UNACCOUNTED_FILE}.
 */
final class TableRebuild {

    private static final Logger LOG = LoggerFactory.getLogger(TableRebuild.class);

    private final Path dir;
    private final RegionFiles regions;
    private final long alignment;
    private final TableStore store;
    private final LoopAttachments loops;
    private final VolumeExtents extents;

    /** What the labels of one region file say, and where it holds data without a label. */
    private record Scan(List<VolumeRecord> found, List<UnmanagedExtent> unaccounted) {}

    TableRebuild(Path dir, RegionFiles regions, long alignment, TableStore store, LoopAttachments loops,
                 VolumeExtents extents) {
        this.dir = dir;
        this.regions = regions;
        this.alignment = alignment;
        this.store = store;
        this.loops = loops;
        this.extents = extents;
    }

    /** @param why what became of the table, for the logs and errors */
    List<VolumeRecord> rebuild(String why) throws IOException, DeviceException, NativeException {
        LOG.error("the namespace table {} is {}: rebuilding it from the volume labels in the region files", store.file(), why);
        List<VolumeRecord> found = new ArrayList<>();
        List<UnmanagedExtent> unaccounted = new ArrayList<>();
        for (RegionFile f : regions.all()) {
            Scan scan = scan(f);
            found.addAll(scan.found());
            unaccounted.addAll(scan.unaccounted());
        }
        if (!unaccounted.isEmpty()) {
            eraseWithConsent(unaccounted, why);
        }
        List<String> problems = Recovery.validate(found, regions.sizes());
        if (!problems.isEmpty()) {
            throw new DeviceException("the volume labels in the region files contradict each other: " + String.join("; ", problems)
                    + "; restore " + EmulatedDeviceManager.TABLE_FILE + " from a backup");
        }
        if (store.exists()) {
            Path kept = store.file().resolveSibling(EmulatedDeviceManager.TABLE_FILE + ".unreadable-" + System.currentTimeMillis());
            Files.move(store.file(), kept);
            LOG.warn("kept the unreadable table as {}", kept);
        }
        store.save(found);
        forgetEraseConsent(dir);
        LOG.warn("rebuilt the namespace table {} with {} volumes from their labels: {}", store.file(), found.size(),
                found.stream().map(VolumeRecord::id).toList());
        return found;
    }

    /** Walks the file an allocation unit at a time, skipping holes, which hold neither labels nor data. */
    private Scan scan(RegionFile f) throws IOException, NativeException {
        List<VolumeRecord> found = new ArrayList<>();
        List<UnmanagedExtent> unaccounted = new ArrayList<>();
        try (RegularFile file = RegularFile.open(f.path());
             FileChannel ch = FileChannel.open(f.path(), StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            long pos = 0;
            long dataStart = -1;
            while (pos < f.size()) {
                long next = file.nextData(pos);
                if (next >= pos + alignment) {
                    if (dataStart >= 0) {
                        unaccounted.add(unaccounted(f, dataStart, pos));
                        dataStart = -1;
                    }
                    pos = Math.min(f.size(), next - next % alignment);
                    continue;
                }
                Optional<VolumeRecord> label = ExtentLabel.read(ch, f.name(), pos, f.size(), alignment);
                boolean zero = label.isEmpty() && file.isZero(pos, alignment);
                if ((label.isPresent() || zero) && dataStart >= 0) {
                    unaccounted.add(unaccounted(f, dataStart, pos));
                    dataStart = -1;
                }
                if (label.isPresent()) {
                    found.add(label.get());
                    pos = label.get().extent().end();
                    continue;
                }
                if (!zero && dataStart < 0) {
                    dataStart = pos;
                }
                pos += alignment;
            }
            if (dataStart >= 0) {
                unaccounted.add(unaccounted(f, dataStart, f.size()));
            }
        }
        return new Scan(found, unaccounted);
    }

    private static UnmanagedExtent unaccounted(RegionFile f, long from, long to) {
        return new UnmanagedExtent(f.name(), f.path().toString(), from, to - from, "data no volume label accounts for");
    }

    /** Erases the data when the operator consented and nothing uses it; refuses to start otherwise. */
    private void eraseWithConsent(List<UnmanagedExtent> unaccounted, String why) throws DeviceException, NativeException {
        Path consent = dir.resolve(EmulatedDeviceManager.ERASE_UNACCOUNTED_FILE);
        String where = String.join(", ", unaccounted.stream()
                .map(u -> u.region() + " bytes " + u.offsetBytes() + "+" + u.sizeBytes()).toList());
        List<String> busy = loops.observe(true).stream().filter(Recovery.ObservedLoop::busy)
                .filter(o -> unaccounted.stream().anyMatch(u -> u.region().equals(o.region())
                        && o.loop().offset() < u.offsetBytes() + u.sizeBytes()
                        && (o.loop().sizeLimit() == 0 || u.offsetBytes() < o.loop().offset() + o.loop().sizeLimit())))
                .map(o -> o.loop().device().toString()).toList();
        if (!Files.exists(consent, LinkOption.NOFOLLOW_LINKS) || !busy.isEmpty()) {
            throw new DeviceException("the namespace table " + store.file() + " is " + why + ", and the regions hold data"
                    + " that no volume label accounts for (" + where + "); starting would hand it out with new volumes."
                    + (busy.isEmpty() ? "" : " It is in use through " + busy + "; stop whatever uses it first.")
                    + " Stop the driver and restore " + EmulatedDeviceManager.TABLE_FILE + " from a backup, or, if that data"
                    + " may be destroyed, create " + consent + " and start again (docs/reliability.md, \"Lost volume table\")");
        }
        for (UnmanagedExtent u : unaccounted) {
            LOG.warn("erasing {} bytes at {} of {}: data no volume label accounts for, erased as {} asks",
                    u.sizeBytes(), u.offsetBytes(), u.region(), consent);
            extents.eraseUnaccounted(u);
        }
    }

    /** The consent applies to the start it was given for, never to a later loss of the table. */
    static void forgetEraseConsent(Path dir) throws IOException {
        if (Files.deleteIfExists(dir.resolve(EmulatedDeviceManager.ERASE_UNACCOUNTED_FILE))) {
            LOG.info("removed {}", dir.resolve(EmulatedDeviceManager.ERASE_UNACCOUNTED_FILE));
        }
    }
}
