package dev.pmemcsi.device.emulated;

import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.UnmanagedExtent;
import dev.pmemcsi.pmemnative.NativeException;
import dev.pmemcsi.pmemnative.TrustedPaths;
import dev.pmemcsi.pmemnative.loop.LoopDevice;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The start of the emulated backend: it takes the directory, opens the region files, loads the
 * table (or rebuilds it from the labels), and then carries out the {@link Recovery} plan, so that
 * whatever a crash interrupted is finished or undone before the first call.
 */
final class StartupRecovery {

    private static final Logger LOG = LoggerFactory.getLogger(StartupRecovery.class);

    private final Path dir;
    private final DirectoryLock lock;
    private final RegionFiles regions;
    private final VolumeTable table;
    private final LoopAttachments loops;
    private final VolumeExtents extents;
    private final FaultFiles faults;
    private final TableRebuild rebuild;

    StartupRecovery(Path dir, DirectoryLock lock, RegionFiles regions, VolumeTable table, LoopAttachments loops,
                    VolumeExtents extents, FaultFiles faults, long alignment) {
        this.dir = dir;
        this.lock = lock;
        this.regions = regions;
        this.table = table;
        this.loops = loops;
        this.extents = extents;
        this.faults = faults;
        this.rebuild = new TableRebuild(dir, regions, alignment, table.store(), loops, extents);
    }

    /** Everything a start does; the caller releases the lock when this fails. */
    void run() throws IOException, DeviceException, NativeException, TrustedPaths.UntrustedPathException {
        // Root grows and zeroes the files in here: no one else may plant anything in it.
        TrustedPaths.requirePrivateDir(dir, "emulated dir");
        Files.createDirectories(dir.resolve(FaultFiles.DIR));
        lock.acquire();
        boolean regionsExisted = regions.anyExists();
        regions.open();
        List<VolumeRecord> rows = loadTable(regionsExisted);
        List<String> problems = Recovery.validate(rows, regions.sizes());
        if (!problems.isEmpty()) {
            throw new DeviceException("the namespace table " + table.store().file() + " does not fit the configured regions: "
                    + String.join("; ", problems));
        }
        Recovery.Plan plan = Recovery.plan(rows, loops.observe(true), regions.sizes());
        table.reset(rows);
        carryOut(plan);
        extents.writeMissingLabels(table.rows(VolumeState.READY));
    }

    /** The table as stored, or as rebuilt from the labels when it is lost or unreadable. */
    private List<VolumeRecord> loadTable(boolean regionsExisted) throws IOException, DeviceException, NativeException {
        TableStore store = table.store();
        String lost = null;
        List<VolumeRecord> rows = List.of();
        if (store.exists() || !regionsExisted) {
            try {
                rows = store.load();
                if (!store.exists()) {
                    // From now on, region files without a table mean the table was lost.
                    store.save(rows);
                }
            } catch (TableStore.UnreadableTableException e) {
                lost = "unreadable (" + e.getMessage() + ")";
            }
        } else {
            lost = "missing while the region files exist";
        }
        if (lost != null) {
            return rebuild.rebuild(lost);
        }
        TableRebuild.forgetEraseConsent(dir);
        return rows;
    }

    private void carryOut(Recovery.Plan plan) throws DeviceException {
        List<UnmanagedExtent> unmanaged = new ArrayList<>(plan.unmanaged());
        Set<String> blockedIds = new HashSet<>(plan.stuck().keySet());
        for (Recovery.Detach d : plan.detach()) {
            detach(d, unmanaged, blockedIds);
        }
        plan.stuck().forEach(table::putDevice);
        table.block(blockedIds, unmanaged);
        for (VolumeRecord r : plan.rollBack()) {
            if (!blockedIds.contains(r.id())) {
                LOG.info("rolling back the interrupted creation of volume {}", r.id());
                extents.clearLabel(r);
                table.remove(r.id());
            }
        }
        for (VolumeRecord r : plan.finishDelete()) {
            if (!blockedIds.contains(r.id())) {
                LOG.info("finishing the interrupted deletion of volume {}", r.id());
                extents.release(r);
                table.remove(r.id());
                faults.clear(r.id());
            }
        }
        plan.reuse().forEach((id, loop) -> {
            LOG.info("volume {} keeps {}", id, loop.device());
            table.putDevice(id, loop);
        });
        for (Map.Entry<String, LoopDevice> g : plan.grow().entrySet()) {
            VolumeRecord r = table.row(g.getKey());
            try {
                LoopDevice loop = loops.resize(g.getValue(), r);
                LOG.info("volume {} keeps {}, grown to the recorded {} bytes", r.id(), loop.device(), r.usableBytes());
                table.putDevice(r.id(), loop);
            } catch (NativeException e) {
                throw new DeviceException("cannot finish growing volume " + r.id() + " on " + g.getValue().device()
                        + ": " + e.getMessage(), e);
            }
        }
        for (VolumeRecord r : plan.attach()) {
            try {
                LoopDevice loop = loops.attach(r);
                LOG.info("volume {} reattached as {}", r.id(), loop.device());
                table.putDevice(r.id(), loop);
            } catch (NativeException e) {
                throw new DeviceException("cannot reattach volume " + r.id() + ": " + e.getMessage(), e);
            }
        }
    }

    /** A device that will not go is reported, and blocks the volume whose rollback or deletion needed it gone. */
    private void detach(Recovery.Detach d, List<UnmanagedExtent> unmanaged, Set<String> blockedIds) {
        LOG.info("detaching {} ({})", d.loop().device(), d.reason());
        String failure;
        try {
            failure = loops.detach(d.loop()) ? null : "still open by another process";
        } catch (NativeException e) {
            failure = e.getMessage();
        }
        if (failure == null) {
            return;
        }
        LOG.warn("cannot detach {}: {}", d.loop().device(), failure);
        unmanaged.add(new UnmanagedExtent(regions.regionOf(d.loop()), d.loop().device().toString(), d.loop().offset(),
                d.loop().sizeLimit(), d.reason() + ", but it cannot be detached: " + failure));
        if (d.volumeId() != null) {
            blockedIds.add(d.volumeId());
            table.putDevice(d.volumeId(), d.loop());
        }
    }
}
