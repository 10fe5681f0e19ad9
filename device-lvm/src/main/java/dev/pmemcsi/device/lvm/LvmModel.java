package dev.pmemcsi.device.lvm;

import dev.pmemcsi.device.DeviceException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.LongSupplier;

/**
 * What the driver knows of lvm between its commands: the volume groups and logical volumes of the
 * last {@code lvm fullreport}, brought up to date by every change the driver makes. Without it
 * every operation would start with a {@code fullreport}, a process that reads every volume
 * group's metadata and costs as much as the {@code lvcreate} or {@code lvremove} it precedes.
 *
 * <p>lvm stays the record: the model is read again at start, after any lvm command fails, when
 * a volume the caller names is not in it (another process of the driver may have made it), and
 * once it is older than {@code maxAge}, so that what others change in lvm shows within that time.
 *
 * <p>Changes run under the shared side of a read-write lock and re-reading under the exclusive
 * side, so a report never lands on top of a change it did not see. Changes of different volumes
 * may run at once; lvm serialises those in one volume group with its own locks.
 */
final class LvmModel {

    /** Reads lvm's state afresh. */
    @FunctionalInterface
    interface Reader {
        LvmReports.State read() throws LvmException;
    }

    /** A change of lvm and of this model, made while no report is being read. */
    @FunctionalInterface
    interface Change<T> {
        T run() throws DeviceException;
    }

    static final Duration DEFAULT_MAX_AGE = Duration.ofSeconds(30);

    private final Reader reader;
    private final long maxAgeNanos;
    private final LongSupplier clock;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock(true);

    // Guarded by this.
    private final Map<String, LvmReports.VolumeGroup> groups = new LinkedHashMap<>();
    private final Map<String, LvmReports.LogicalVolume> volumes = new LinkedHashMap<>();
    private boolean stale = true;
    private long readAt;

    LvmModel(Reader reader, Duration maxAge, LongSupplier clock) {
        this.reader = reader;
        this.maxAgeNanos = maxAge.toNanos();
        this.clock = clock;
    }

    LvmModel(Reader reader) {
        this(reader, DEFAULT_MAX_AGE, System::nanoTime);
    }

    /** The model, read afresh first when it is stale or older than the maximum age. */
    LvmReports.State current() throws LvmException {
        synchronized (this) {
            if (!stale && clock.getAsLong() - readAt < maxAgeNanos) {
                return snapshot();
            }
        }
        return refresh();
    }

    /** Reads lvm's state afresh, once no change is running, and makes it the model. */
    LvmReports.State refresh() throws LvmException {
        if (lock.getReadHoldCount() > 0) {
            throw new IllegalStateException("lvm's state cannot be read again inside a change");
        }
        lock.writeLock().lock();
        try {
            LvmReports.State fresh = reader.read();
            synchronized (this) {
                groups.clear();
                volumes.clear();
                fresh.groups().forEach(g -> groups.put(g.name(), g));
                fresh.volumes().forEach(v -> volumes.put(v.fullName(), v));
                stale = false;
                readAt = clock.getAsLong();
                return snapshot();
            }
        } catch (LvmException | RuntimeException e) {
            markStale();
            throw e;
        } finally {
            lock.writeLock().unlock();
        }
    }

    /**
     * Runs a change of lvm that updates the model with what it did. Whatever it throws leaves the
     * model stale: lvm may have done part of it.
     */
    <T> T change(Change<T> change) throws DeviceException {
        lock.readLock().lock();
        try {
            return change.run();
        } catch (DeviceException | RuntimeException e) {
            markStale();
            throw e;
        } finally {
            lock.readLock().unlock();
        }
    }

    synchronized void markStale() {
        stale = true;
    }

    private LvmReports.State snapshot() {
        return new LvmReports.State(new ArrayList<>(groups.values()), new ArrayList<>(volumes.values()));
    }

    // ---- what a change did; each is idempotent, so a report that already saw it changes nothing

    /** A new logical volume: its group has its size less free. */
    synchronized void created(LvmReports.LogicalVolume lv) {
        if (volumes.putIfAbsent(lv.fullName(), lv) == null) {
            adjustFree(lv.vgName(), -lv.sizeBytes(), 1);
        }
    }

    synchronized void removed(String fullName) {
        LvmReports.LogicalVolume lv = volumes.remove(fullName);
        if (lv != null) {
            adjustFree(lv.vgName(), lv.sizeBytes(), -1);
        }
    }

    synchronized void resized(String fullName, long bytes) {
        LvmReports.LogicalVolume lv = volumes.get(fullName);
        if (lv != null && lv.sizeBytes() != bytes) {
            volumes.put(fullName, new LvmReports.LogicalVolume(lv.name(), lv.vgName(), lv.uuid(), bytes, lv.tags(),
                    lv.attr(), lv.dmPath(), List.of()));
            adjustFree(lv.vgName(), lv.sizeBytes() - bytes, 0);
        }
    }

    synchronized void retagged(String fullName, List<String> add, List<String> delete) {
        LvmReports.LogicalVolume lv = volumes.get(fullName);
        if (lv != null) {
            List<String> tags = new ArrayList<>(lv.tags());
            tags.removeAll(delete);
            add.stream().filter(t -> !tags.contains(t)).forEach(tags::add);
            volumes.put(fullName, new LvmReports.LogicalVolume(lv.name(), lv.vgName(), lv.uuid(), lv.sizeBytes(), tags,
                    lv.attr(), lv.dmPath(), lv.peRanges()));
        }
    }

    synchronized void activated(String fullName) {
        LvmReports.LogicalVolume lv = volumes.get(fullName);
        if (lv != null && !lv.active()) {
            String attr = lv.attr().length() > 4 ? lv.attr().substring(0, 4) + 'a' + lv.attr().substring(5) : lv.attr();
            volumes.put(fullName, new LvmReports.LogicalVolume(lv.name(), lv.vgName(), lv.uuid(), lv.sizeBytes(), lv.tags(),
                    attr, lv.dmPath(), lv.peRanges()));
        }
    }

    private void adjustFree(String vg, long delta, int lvDelta) {
        LvmReports.VolumeGroup g = groups.get(vg);
        if (g == null) {
            stale = true;
            return;
        }
        long free = g.freeBytes() + delta;
        if (free < 0 || free > g.sizeBytes()) {
            // Someone else changed the group too; the next read tells what it holds.
            stale = true;
            free = Math.max(0, Math.min(free, g.sizeBytes()));
        }
        groups.put(vg, new LvmReports.VolumeGroup(g.name(), g.uuid(), g.tags(), g.sizeBytes(), free, g.extentBytes(),
                g.pvCount(), g.missingPvCount(), Math.max(0, g.lvCount() + lvDelta)));
    }
}
