package dev.pmemcsi.device.emulated;

import dev.pmemcsi.device.Capacity;
import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.DeviceBusyException;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceHealth;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.Extent;
import dev.pmemcsi.device.FaultPoints;
import dev.pmemcsi.device.KeyedLocks;
import dev.pmemcsi.device.NoSpaceException;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.RegionLayout;
import dev.pmemcsi.device.UnmanagedExtent;
import dev.pmemcsi.device.VolumeHealth;
import dev.pmemcsi.device.VolumeInUseException;
import dev.pmemcsi.device.VolumeNotFoundException;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.pmemnative.BlockDevice;
import dev.pmemcsi.pmemnative.NativeException;
import dev.pmemcsi.pmemnative.TrustedPaths;
import dev.pmemcsi.pmemnative.loop.LoopDevice;
import dev.pmemcsi.pmemnative.loop.LoopDevices;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * PMEM emulated with files and loop devices, for CI, laptops and kind clusters.
 *
 * <p>Each region is a sparse file {@code <dir>/region<N>.img} ({@link RegionFiles}). A volume is a
 * contiguous extent of one region, placed best fit like a namespace in real PMEM
 * ({@link RegionSpace}), and exposed as a loop device over that extent ({@link LoopAttachments}).
 * The first bytes of the extent stand in for the mode's on-media metadata (page map or BTT), so
 * device sizes and free space match what real PMEM would show for the same requests; they hold
 * the volume's label ({@link VolumeExtents}).
 *
 * <p>The namespace table ({@code volumes.json}, {@link VolumeTable}) plays the role of the
 * namespace labels. Every volume is recorded with its state before its loop device is touched, so
 * that {@link #start()} ({@link StartupRecovery}) can finish or undo whatever a crash interrupted.
 * A lock file keeps a second driver instance away from the directory ({@link DirectoryLock}).
 *
 * <p>Loop devices cannot map pages directly, so volumes are never DAX-capable.
 *
 * <p>At some 650 lines it is longer than the other classes on purpose: it holds the order
 * of every operation's crash-safe steps, which reads best top to bottom in one place; each step's
 * work lives in the classes named above.
 */
public final class EmulatedDeviceManager implements DeviceManager {

    /** Region alignment of real PMEM. */
    public static final long DEFAULT_ALIGNMENT = 16 * CapacityMath.MIB;

    static final String TABLE_FILE = "volumes.json";
    static final String LOCK_FILE = "pmem-csi.lock";
    /** The operator's consent, consumed by the next start, to erase data no volume label accounts for. */
    static final String ERASE_UNACCOUNTED_FILE = "erase-unaccounted-data";

    // Test-only crash points (see FaultPoints), so tests can check that start() repairs what a
    // crash leaves behind. The names are part of the test contract (docs/reliability.md).
    /** After the CREATING row is durable, before the loop device exists. */
    static final String FAULT_CREATE_RECORDED = "create.recorded";
    /** After the loop device is attached, before the row says READY. */
    static final String FAULT_CREATE_ATTACHED = "create.attached";
    /** After the DELETING row is durable, before the loop device is detached. */
    static final String FAULT_DELETE_RECORDED = "delete.recorded";
    /** After the loop device is gone, before the extent is zeroed. */
    static final String FAULT_DELETE_DETACHED = "delete.detached";
    /** After the extent is zeroed, before the row is removed. */
    static final String FAULT_DELETE_ERASED = "delete.erased";
    /** After the grown row is durable, before the label is rewritten and the device grows. */
    static final String FAULT_EXPAND_RECORDED = "expand.recorded";
    /** After the label carries the grown row, before the loop device grows. */
    static final String FAULT_EXPAND_LABELLED = "expand.labelled";
    /** After the loop device grew, before the call returns. */
    static final String FAULT_EXPAND_RESIZED = "expand.resized";
    /** Moving to grow: after the target extent is reserved, before anything is copied. */
    static final String FAULT_MOVE_RESERVED = "move.reserved";
    /** Moving to grow: after the data is copied and flushed, before the row names the target. */
    static final String FAULT_MOVE_COPIED = "move.copied";
    /** Moving to grow: after the row names the target, before the old device goes. */
    static final String FAULT_MOVE_SWITCHED = "move.switched";
    /** Moving to grow: after the new device is attached, before the old extent is erased. */
    static final String FAULT_MOVE_ATTACHED = "move.attached";
    /** Moving to grow: after the old extent is erased, before its row is removed. */
    static final String FAULT_MOVE_ERASED = "move.erased";

    private static final Logger LOG = LoggerFactory.getLogger(EmulatedDeviceManager.class);

    private final Path dir;
    private final Map<String, Long> regionSizes;
    private final long alignment;
    private final OperationListener listener;
    private final FaultFiles faults;
    private final DirectoryLock dirLock;
    private final RegionFiles regions;
    private final VolumeTable table;
    private final LoopAttachments loops;
    private final VolumeExtents extents;
    private final StartupRecovery startup;
    private final EmulatedHealth health;
    private final KeyedLocks volumeLocks = new KeyedLocks();
    private final ExtentCopier copier = new ExtentCopier();
    private volatile boolean ready;

    /**
     * @param emulatedDir where region files, the table and the lock live; created if missing
     * @param regionSizes one size per region, each a positive multiple of {@code alignment}
     * @param alignment   allocation unit of the regions, {@link #DEFAULT_ALIGNMENT} like real PMEM
     */
    public EmulatedDeviceManager(Path emulatedDir, List<Long> regionSizes, long alignment) {
        this(emulatedDir, regionSizes, alignment, new LoopDevices());
    }

    public EmulatedDeviceManager(Path emulatedDir, List<Long> regionSizes) {
        this(emulatedDir, regionSizes, DEFAULT_ALIGNMENT);
    }

    /** @param listener is told about every create, delete and erase of a volume */
    public EmulatedDeviceManager(Path emulatedDir, List<Long> regionSizes, long alignment, OperationListener listener) {
        this(emulatedDir, regionSizes, alignment, new LoopDevices(), listener);
    }

    EmulatedDeviceManager(Path emulatedDir, List<Long> regionSizes, long alignment, LoopDevices loops) {
        this(emulatedDir, regionSizes, alignment, loops, OperationListener.NONE);
    }

    EmulatedDeviceManager(Path emulatedDir, List<Long> regionSizes, long alignment, LoopDevices loopDevices,
                          OperationListener listener) {
        if (alignment <= 0 || alignment % 4096 != 0) {
            throw new IllegalArgumentException("region alignment must be a positive multiple of 4 KiB: " + alignment);
        }
        this.dir = emulatedDir.toAbsolutePath();
        this.regionSizes = RegionSizes.byName(regionSizes, alignment);
        this.alignment = alignment;
        this.listener = listener;
        this.faults = new FaultFiles(dir);
        this.dirLock = new DirectoryLock(dir);
        this.regions = new RegionFiles(dir, this.regionSizes);
        this.table = new VolumeTable(new TableStore(dir.resolve(TABLE_FILE)));
        this.loops = new LoopAttachments(loopDevices, regions);
        this.extents = new VolumeExtents(regions, alignment, listener);
        this.startup = new StartupRecovery(dir, dirLock, regions, table, loops, extents, faults, alignment);
        this.health = new EmulatedHealth(faults, loops, regions);
    }

    /** Region sizes from a flag value like {@code 4Gi,4Gi}, checked against the default alignment. */
    public static List<Long> parseRegionSizes(String spec) {
        return parseRegionSizes(spec, DEFAULT_ALIGNMENT);
    }

    /** Region sizes from a flag value like {@code 4Gi,512Mi}, each a multiple of {@code alignment}. */
    public static List<Long> parseRegionSizes(String spec, long alignment) {
        return RegionSizes.parseRegionSizes(spec, alignment);
    }

    @Override
    public String backendName() {
        return "emulated";
    }

    public Path emulatedDir() {
        return dir;
    }

    public long alignment() {
        return alignment;
    }

    // ---------------------------------------------------------------- start

    @Override
    public synchronized void start() throws DeviceException {
        if (ready) {
            return;
        }
        boolean started = false;
        try {
            startup.run();
            ready = true;
            started = true;
            LOG.info("emulated PMEM ready in {}: {} regions, {} volumes", dir, regionSizes.size(), listVolumes().size());
        } catch (TrustedPaths.UntrustedPathException e) {
            throw new DeviceException("cannot start emulated PMEM: " + e.getMessage(), e);
        } catch (IOException e) {
            throw new DeviceException("cannot start emulated PMEM in " + dir + ": " + e, e);
        } catch (NativeException e) {
            throw new DeviceException("cannot start emulated PMEM in " + dir + ": " + e.getMessage(), e);
        } finally {
            if (!started) {
                dirLock.release();
            }
        }
    }

    @Override
    public boolean isReady() {
        return ready;
    }

    private void requireReady() throws DeviceBusyException {
        if (!ready) {
            throw new DeviceBusyException("emulated PMEM in " + dir + " is not started");
        }
    }

    // ---------------------------------------------------------------- volumes

    @Override
    public List<PmemVolume> listVolumes() throws DeviceException {
        requireReady();
        return table.volumes();
    }

    @Override
    public Optional<PmemVolume> getVolume(String volumeId) throws DeviceException {
        requireReady();
        return table.volume(volumeId);
    }

    @Override
    public PmemVolume createVolume(VolumeRequest req) throws DeviceException {
        return listener.timed(OperationListener.Kind.CREATE, "volume " + req.volumeId(), () -> create(req));
    }

    private PmemVolume create(VolumeRequest req) throws DeviceException {
        requireReady();
        String id = req.volumeId();
        try (KeyedLocks.Held held = volumeLocks.lock(id); MDC.MDCCloseable mdc = MDC.putCloseable("volume", id)) {
            VolumeRecord pending = table.row(id);
            if (pending != null && pending.state() == VolumeState.DELETING) {
                // A delete of this ID gave up half way; it finishes, with the erase it recorded,
                // before the ID names a new volume.
                delete(id, false);
            }
            VolumeRecord rec;
            synchronized (table) {
                VolumeRecord existing = table.row(id);
                if (existing != null) {
                    return existing(existing, req);
                }
                rec = table.space(regionSizes, alignment).place(req);
                table.put(rec);
            }
            FaultPoints.reached(FAULT_CREATE_RECORDED);
            LoopDevice loop = labelAndAttach(rec);
            FaultPoints.reached(FAULT_CREATE_ATTACHED);
            VolumeRecord readyRec = rec.withState(VolumeState.READY);
            try {
                synchronized (table) {
                    table.put(readyRec);
                    table.putDevice(id, loop);
                }
            } catch (DeviceException e) {
                rollBack(rec, loop);
                throw e;
            }
            LOG.info("created {} volume {}: capacity {}, {} usable bytes at {}+{} of {}, {}", rec.mode(), id, rec.capacity(),
                    rec.usableBytes(), rec.offset(), rec.rawBytes(), rec.region(), loop.device());
            return VolumeTable.toVolume(readyRec, loop);
        }
    }

    /** The idempotent answer for an ID that exists. Called under the table lock. */
    private PmemVolume existing(VolumeRecord existing, VolumeRequest req) throws DeviceException {
        LoopDevice loop = table.device(existing.id());
        if (existing.state() != VolumeState.READY || loop == null) {
            throw new DeviceBusyException("volume " + existing.id() + " is " + existing.state().name().toLowerCase()
                    + "; retry once that has finished (a pending deletion finishes with a retried DeleteVolume)");
        }
        return req.requireSatisfiedBy(VolumeTable.toVolume(existing, loop));
    }

    /** Writes the label of a recorded volume and attaches its loop device; undoes the creation when either fails. */
    private LoopDevice labelAndAttach(VolumeRecord rec) throws DeviceException {
        try {
            extents.writeLabel(rec);
        } catch (DeviceException e) {
            rollBack(rec, null);
            throw e;
        }
        try {
            return loops.attach(rec);
        } catch (NativeException | RuntimeException e) {
            rollBack(rec, null);
            throw new DeviceException("cannot attach a loop device for volume " + rec.id() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Undoes a creation that failed in this process: the extent never held data, so it needs no
     * erase, only its label goes, so that no rebuild of the table brings the volume back.
     */
    private void rollBack(VolumeRecord rec, LoopDevice loop) {
        if (loop != null) {
            try {
                loops.detach(loop);
            } catch (NativeException e) {
                LOG.warn("cannot detach {} of the failed volume {}: {}; start() will", loop.device(), rec.id(), e.getMessage());
                return;
            }
        }
        try {
            extents.clearLabel(rec);
        } catch (DeviceException e) {
            LOG.warn("{}; start() will", e.getMessage());
            return;
        }
        try {
            synchronized (table) {
                table.removeDevice(rec.id());
                table.remove(rec.id());
            }
        } catch (DeviceException e) {
            LOG.warn("cannot roll back volume {} in the table: {}; start() will", rec.id(), e.getMessage());
        }
    }

    /**
     * Deletes the volume. The extent is always zeroed before it becomes free, since that costs
     * milliseconds per GiB here. With {@code erase} (or the volume's recorded
     * {@code eraseAfter}) a failure to zero fails the delete and keeps the space reserved;
     * without, it is only logged.
     */
    @Override
    public void deleteVolume(String volumeId, boolean erase) throws DeviceException {
        listener.timed(OperationListener.Kind.DELETE, "volume " + volumeId, () -> {
            requireReady();
            try (KeyedLocks.Held held = volumeLocks.lock(volumeId); MDC.MDCCloseable mdc = MDC.putCloseable("volume", volumeId)) {
                delete(volumeId, erase);
            }
            return null;
        });
    }

    /**
     * Deletes under the volume's lock. A row already DELETING (an earlier attempt gave up, or
     * failed to erase) goes through every step again: each one is a no-op when already done.
     */
    private void delete(String volumeId, boolean erase) throws DeviceException {
        VolumeRecord rec;
        LoopDevice loop;
        synchronized (table) {
            rec = table.row(volumeId);
            loop = table.device(volumeId);
        }
        if (rec == null) {
            return;
        }
        VolumeRecord deleting = rec.deleting(erase || rec.eraseAfter());
        detachForDelete(deleting, loop);
        table.removeDevice(volumeId);
        FaultPoints.reached(FAULT_DELETE_DETACHED);
        extents.release(deleting);
        FaultPoints.reached(FAULT_DELETE_ERASED);
        table.remove(volumeId);
        faults.clear(volumeId);
        LOG.info("deleted volume {} ({}+{} of {} is free)", volumeId, rec.offset(), rec.rawBytes(), rec.region());
    }

    /**
     * Records the deletion and takes the volume's loop device away: claimed exclusively first, so
     * that a mounted volume is refused before anything changes and nobody mounts it meanwhile.
     */
    private void detachForDelete(VolumeRecord deleting, LoopDevice loop) throws DeviceException {
        String id = deleting.id();
        BlockDevice claimed = loop != null && loops.stillOurs(loop, deleting) ? loops.claim(id, loop) : null;
        try {
            table.put(deleting);
            FaultPoints.reached(FAULT_DELETE_RECORDED);
            if (claimed != null) {
                loops.release(claimed);
            }
        } catch (NativeException e) {
            throw new DeviceException("volume " + id + ": " + e.getMessage(), e);
        } finally {
            if (claimed != null) {
                claimed.close();
            }
        }
        if (claimed != null && !loops.awaitDetached(loop)) {
            throw new DeviceBusyException("volume " + id + ": " + loop.device() + " is still open by another process; "
                    + "the kernel detaches it on that process's last close, and a retried delete finishes then");
        }
    }

    // ---------------------------------------------------------------- growth

    @Override
    public Expansion expansion() {
        return Expansion.ONLINE;
    }

    /**
     * Grows the volume in place: its extent takes the free space right after it, and its loop
     * device grows while it may be mounted. The grown row, and the label that copies it, are
     * durable before the device grows, so a crash leaves a row that start() finishes by growing the
     * device ({@link Recovery}); the grown space is never free in between. A row already grown
     * whose device did not follow (an earlier attempt failed) has its device grown by a retry.
     * When the space after the volume is taken, a volume not in use moves ({@link #relocate}).
     */
    @Override
    public PmemVolume expandVolume(String volumeId, long requiredBytes, long limitBytes, boolean inUse)
            throws DeviceException {
        requireReady();
        try (KeyedLocks.Held held = volumeLocks.lock(volumeId); MDC.MDCCloseable mdc = MDC.putCloseable("volume", volumeId)) {
            VolumeRecord rec;
            VolumeRecord grown;
            LoopDevice loop;
            boolean move = false;
            synchronized (table) {
                rec = table.row(volumeId);
                loop = table.device(volumeId);
                if (rec == null || rec.state() == VolumeState.DELETING) {
                    throw new VolumeNotFoundException("volume " + volumeId + " not found");
                }
                if (rec.state() != VolumeState.READY || loop == null) {
                    throw new DeviceBusyException("volume " + volumeId + " is " + rec.state().name().toLowerCase()
                            + "; retry once that has finished");
                }
                long largestRegion = regionSizes.values().stream().mapToLong(Long::longValue).max().orElse(0);
                grown = VolumeGrowth.grown(rec, requiredBytes, limitBytes, alignment, largestRegion).orElse(rec);
                if (grown.rawBytes() > rec.rawBytes()) {
                    RegionLayout layout = table.space(regionSizes, alignment).layout(rec.region());
                    if (!VolumeGrowth.freeAfter(layout, rec, grown.rawBytes())) {
                        if (inUse) {
                            throw cannotGrowInPlace(rec, grown, layout);
                        }
                        move = true;
                    }
                }
                if (grown != rec && !move) {
                    table.put(grown);
                }
            }
            if (move) {
                return relocate(rec, loop, grown.rawBytes(), limitBytes);
            }
            if (grown != rec) {
                FaultPoints.reached(FAULT_EXPAND_RECORDED);
                extents.writeLabel(grown);
                FaultPoints.reached(FAULT_EXPAND_LABELLED);
            }
            if (loop.sizeLimit() != grown.usableBytes()) {
                loop = growDevice(grown, loop);
                FaultPoints.reached(FAULT_EXPAND_RESIZED);
            }
            if (grown != rec) {
                LOG.info("grew volume {} in place: capacity {} -> {}, extent {}+{} -> {}+{} of {}, {}", volumeId,
                        rec.capacity(), grown.capacity(), rec.offset(), rec.rawBytes(), grown.offset(), grown.rawBytes(),
                        grown.region(), loop.device());
            }
            return VolumeTable.toVolume(grown, loop);
        }
    }

    /** Grows the device to the recorded size; on failure the row stays grown and a retry or start() finishes. */
    private LoopDevice growDevice(VolumeRecord grown, LoopDevice loop) throws DeviceException {
        if (!loops.stillOurs(loop, grown)) {
            throw new DeviceException("volume " + grown.id() + ": " + loop.device() + " no longer shows the volume; "
                    + "a restart of the driver reattaches it at the recorded size of " + grown.usableBytes() + " bytes");
        }
        try {
            LoopDevice resized = loops.resize(loop, grown);
            table.putDevice(grown.id(), resized);
            return resized;
        } catch (NativeException e) {
            throw new DeviceException("volume " + grown.id() + " is recorded at " + grown.usableBytes()
                    + " bytes, but " + loop.device() + " could not grow: " + e.getMessage()
                    + "; a retried expansion or a restart of the driver grows it", e);
        }
    }

    /**
     * The refusal when the space right after the volume is not free: a volume in use cannot move;
     * one that is not in use could, but this backend grows volumes in place only.
     */
    private DeviceException cannotGrowInPlace(VolumeRecord rec, VolumeRecord grown, RegionLayout layout) {
        long from = rec.extent().end();
        long to = rec.offset() + grown.rawBytes();
        String holder;
        if (to > layout.size()) {
            holder = "the region ends at byte " + layout.size();
        } else {
            holder = table.rows().stream()
                    .filter(r -> r.region().equals(rec.region()) && !r.id().equals(rec.id())
                            && r.extent().overlaps(new Extent(from, to - from)))
                    .map(r -> "volume " + r.id() + " starts at byte " + r.offset())
                    .findFirst().orElse("space there is held by a device the driver does not manage");
        }
        String what = "volume " + rec.id() + " cannot grow in place from " + rec.rawBytes() + " to " + grown.rawBytes()
                + " bytes of " + rec.region() + ": the bytes " + from + ".." + to + " after it are not free (" + holder + ")";
        return new VolumeInUseException(what + "; the volume has to move to grow, and a volume in use cannot move: "
                + "it must be unpublished and unstaged first, or the space after it freed");
    }

    /**
     * Grows a volume that is not in use by moving it to a free extent of the new size. Every step
     * leaves a table from which start() ends with one complete copy: until the switch, the target
     * extent is held by a DELETING row (a start erases it, the volume stays where it was); the
     * switch is one write that names the target in the volume's row and hands the old extent to
     * that DELETING row (a start detaches the old device, erases the old extent, attaches the new).
     */
    private PmemVolume relocate(VolumeRecord rec, LoopDevice loop, long rawBytes, long limitBytes) throws DeviceException {
        String id = rec.id();
        VolumeRecord target;
        VolumeRecord reserved;
        synchronized (table) {
            RegionSpace space = table.space(regionSizes, alignment);
            Optional<RegionLayout> region = RegionLayout.chooseRegion(space.layouts(), rawBytes);
            if (region.isEmpty()) {
                throw new NoSpaceException("volume " + id + " cannot grow to " + rawBytes + " bytes: the space after it in "
                        + rec.region() + " is taken, and no region has " + rawBytes + " contiguous free bytes to move it to"
                        + " (largest free extent: " + space.layouts().stream().mapToLong(RegionLayout::maxExtentBytes).max().orElse(0) + ")");
            }
            Extent e = region.get().bestFit(rawBytes).orElseThrow();
            target = VolumeGrowth.moved(rec, region.get().region(), e.offset(), rawBytes, limitBytes);
            reserved = VolumeGrowth.moveHolder(target);
            table.put(reserved);
        }
        FaultPoints.reached(FAULT_MOVE_RESERVED);
        BlockDevice claimed;
        try {
            claimed = loops.stillOurs(loop, rec) ? loops.claim(id, loop) : null;
        } catch (DeviceException e) {
            abandonMove(reserved);
            if (e instanceof VolumeInUseException) {
                throw new VolumeInUseException(e.getMessage() + "; the volume has to move to grow, which needs it unused", e);
            }
            throw e;
        }
        try {
            try {
                if (claimed != null) {
                    claimed.fsync();
                }
                copier.copy(regions.path(rec.region()), rec.deviceOffset(), regions.path(target.region()),
                        target.deviceOffset(), rec.usableBytes());
            } catch (IOException | NativeException e) {
                abandonMove(reserved);
                throw new DeviceException("cannot copy volume " + id + " to its new extent: " + e.getMessage(), e);
            }
            FaultPoints.reached(FAULT_MOVE_COPIED);
            VolumeRecord oldExtent = VolumeGrowth.moveHolder(rec);
            try {
                table.putAll(List.of(target, oldExtent));
            } catch (DeviceException e) {
                abandonMove(reserved);
                throw e;
            }
            FaultPoints.reached(FAULT_MOVE_SWITCHED);
            return finishMove(rec, target, oldExtent, loop, claimed);
        } finally {
            if (claimed != null) {
                claimed.close();
            }
        }
    }

    /** After the switch, only forward: the old device goes, the new one comes, the old extent is erased. */
    private PmemVolume finishMove(VolumeRecord rec, VolumeRecord target, VolumeRecord oldExtent, LoopDevice loop,
                                  BlockDevice claimed) throws DeviceException {
        String id = rec.id();
        extents.writeLabel(target);
        table.removeDevice(id);
        boolean oldGone = true;
        if (claimed != null) {
            try {
                loops.release(claimed);
            } catch (NativeException e) {
                throw new DeviceException("volume " + id + " moved, but its old device " + loop.device()
                        + " cannot be detached: " + e.getMessage() + "; a restart of the driver finishes the move", e);
            }
            claimed.close();
            oldGone = loops.awaitDetached(loop);
        }
        LoopDevice moved;
        try {
            moved = loops.attach(target);
        } catch (NativeException e) {
            throw new DeviceException("volume " + id + " moved, but no loop device could be attached: " + e.getMessage()
                    + "; a restart of the driver attaches it", e);
        }
        table.putDevice(id, moved);
        FaultPoints.reached(FAULT_MOVE_ATTACHED);
        if (oldGone) {
            extents.release(oldExtent);
            FaultPoints.reached(FAULT_MOVE_ERASED);
            table.remove(oldExtent.id());
        } else {
            LOG.warn("volume {} moved; its old device {} is still open by another process, so the old extent {}+{} of {}"
                    + " stays reserved until the next start erases it", id, loop.device(), rec.offset(), rec.rawBytes(), rec.region());
        }
        LOG.info("grew volume {} by moving it: capacity {} -> {}, extent {}+{} of {} -> {}+{} of {}, {} -> {}", id,
                rec.capacity(), target.capacity(), rec.offset(), rec.rawBytes(), rec.region(), target.offset(),
                target.rawBytes(), target.region(), loop.device(), moved.device());
        return VolumeTable.toVolume(target, moved);
    }

    /** Gives back the target of a move that did not happen: erased (it may hold part of a copy) and freed. */
    private void abandonMove(VolumeRecord reserved) {
        try {
            extents.release(reserved);
            table.remove(reserved.id());
        } catch (DeviceException e) {
            LOG.warn("cannot free the target extent of an abandoned move ({}); start() will: {}", reserved.id(), e.getMessage());
        }
    }

    // ---------------------------------------------------------------- capacity and health

    @Override
    public Capacity capacity() throws DeviceException {
        requireReady();
        return new Capacity(table.space(regionSizes, alignment).capacity());
    }

    @Override
    public VolumeHealth volumeHealth(String volumeId) throws DeviceException {
        requireReady();
        VolumeRecord r;
        LoopDevice loop;
        synchronized (table) {
            r = table.row(volumeId);
            loop = table.device(volumeId);
        }
        if (r == null || r.state() != VolumeState.READY || loop == null) {
            throw new VolumeNotFoundException("volume " + volumeId + " not found");
        }
        return health.of(r, loop);
    }

    @Override
    public DeviceHealth deviceHealth() throws DeviceException {
        requireReady();
        return health.ofRegions(table.rows());
    }

    /**
     * Loop devices over the region files that no volume accounts for, found now, plus volumes
     * start() had to leave half-created or half-deleted because their device was in use. Space
     * they cover is not handed out.
     */
    @Override
    public List<UnmanagedExtent> unmanagedExtents() throws DeviceException {
        requireReady();
        List<VolumeRecord> before = table.rows();
        List<Recovery.ObservedLoop> observed;
        try {
            observed = loops.observe(false);
        } catch (NativeException e) {
            throw new DeviceException("cannot list loop devices: " + e.getMessage(), e);
        }
        return table.reblock(before, observed, regionSizes);
    }

    /** Releases the directory lock. Loop devices stay: volumes outlive the driver process. */
    @Override
    public synchronized void close() {
        ready = false;
        dirLock.release();
    }
}
