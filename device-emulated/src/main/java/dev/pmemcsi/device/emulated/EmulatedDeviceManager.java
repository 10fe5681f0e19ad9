package dev.pmemcsi.device.emulated;

import dev.pmemcsi.device.Capacity;
import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.DeviceBusyException;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceHealth;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.FaultPoints;
import dev.pmemcsi.device.KeyedLocks;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.UnmanagedExtent;
import dev.pmemcsi.device.VolumeHealth;
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
 * <p>At some 460 lines it is longer than the other classes on purpose: it holds the order
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
    private final VolumeResizer resizer;
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
        this.resizer = new VolumeResizer(this.regionSizes, alignment, regions, table, loops, extents);
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
     * Grows the volume in place, also while mounted, or moves it when it is not in use and the
     * space after it is taken ({@link VolumeResizer}).
     */
    @Override
    public PmemVolume expandVolume(String volumeId, long requiredBytes, long limitBytes, boolean inUse)
            throws DeviceException {
        requireReady();
        try (KeyedLocks.Held held = volumeLocks.lock(volumeId); MDC.MDCCloseable mdc = MDC.putCloseable("volume", volumeId)) {
            return resizer.expand(volumeId, requiredBytes, limitBytes, inUse);
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
