package dev.pmemcsi.device.lvm;

import dev.pmemcsi.device.BlockDeviceEraser;
import dev.pmemcsi.device.Capacity;
import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.DeviceBusyException;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceHealth;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.FaultPoints;
import dev.pmemcsi.device.KeyedLocks;
import dev.pmemcsi.device.NoSpaceException;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.OutOfRangeException;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.PoolDevice;
import dev.pmemcsi.device.PoolDevices;
import dev.pmemcsi.device.RegionCapacity;
import dev.pmemcsi.device.RegionLayout;
import dev.pmemcsi.device.UnmanagedExtent;
import dev.pmemcsi.device.VolumeEraser;
import dev.pmemcsi.device.VolumeHealth;
import dev.pmemcsi.device.VolumeInUseException;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeNotFoundException;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.pmemnative.BlockDevice;
import dev.pmemcsi.pmemnative.CommandRunner;
import dev.pmemcsi.pmemnative.NativeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * LVM mode: each pool device (the fsdax namespace of a region, see {@link PoolDevices}) is the one
 * physical volume of a volume group of its own, and a volume is a linear logical volume in one of
 * them. DAX works through device-mapper's linear target, so a volume is as DAX-capable as its pool
 * device. LVM allocates free extents wherever they are, so a region does not fragment: any volume
 * up to a volume group's free space can be made.
 *
 * <p>LVM is the record ({@link LvmNaming}): the driver's volume groups and volumes carry its
 * tags, and the driver keeps in memory only what lvm reported last and what it changed since
 * ({@link LvmModel}), so that an operation runs the one lvm command it needs and not a report
 * first. Whatever lvm shows without the driver's tags (volume groups of others, logical volumes
 * someone made in the driver's volume groups) is never changed, only reported by
 * {@link #unmanagedExtents()}.
 *
 * <p>Crash safety comes from the order of single, atomic steps. A create first records itself
 * durably ({@link PendingCreates}), then makes the volume with all its tags in one
 * {@code lvcreate}, wipes the old signatures on its extents and only then drops the record, so a
 * crash in between leaves a volume with a record that {@link #start()} (or the next create of that
 * ID) removes, and a volume without one has been wiped. A delete that zeroes the data first tags
 * the volume {@code state=deleting} and {@code erase-on-delete}, then zeroes and removes it, and
 * {@link #start()} finishes any such delete it finds; a delete without erase is one lvremove.
 * Volumes tagged {@code state=creating}, the way creates were recorded before, are removed the
 * same way. Calls for one volume ID are serialised here; lvm serialises its own commands on a
 * volume group with its file locks ({@link LvmConfig#lockDir()}).
 *
 * <p>Only fsdax volumes exist: sector mode needs the BTT of a namespace of its own.
 *
 * <p>At some 800 lines it is longer than the other classes on purpose: it holds the order of every
 * operation's crash-safe steps, which reads best top to bottom in one place; the pool set-up
 * ({@link PoolSetup}), names and tags ({@link LvmNaming}), lvm itself ({@link LvmCli},
 * {@link LvmReports}, {@link LvmModel}), the record of pending creates ({@link PendingCreates})
 * and health ({@link LvmHealth}) live in their own classes.
 */
public final class LvmDeviceManager implements DeviceManager {

    private static final Logger LOG = LoggerFactory.getLogger(LvmDeviceManager.class);

    /** The allocation unit: every volume is a multiple of it, and it is a multiple of the 2 MiB huge page. */
    public static final long EXTENT_BYTES = 4 * CapacityMath.MIB;

    // Test-only crash points (see FaultPoints), named like the emulated backend's steps they match.
    /** After lvcreate made the volume, before its signatures are wiped. */
    static final String FAULT_CREATE_RECORDED = "create.recorded";
    /** After the signatures are wiped, before the record of the pending create goes. */
    static final String FAULT_CREATE_ATTACHED = "create.attached";
    /** After the "deleting" tag is on, before the data is zeroed. */
    static final String FAULT_DELETE_RECORDED = "delete.recorded";
    /** After the data is zeroed, before lvremove. */
    static final String FAULT_DELETE_ERASED = "delete.erased";
    /** After lvextend, before the capacity tag follows. */
    static final String FAULT_EXPAND_RESIZED = "expand.resized";

    /** Whether a block device is mounted or held open; an exclusive open tells. */
    @FunctionalInterface
    interface BusyProbe {
        boolean isBusy(Path device) throws NativeException;
    }

    private final LvmNaming naming;
    private final PoolDevices source;
    private final LvmConfig config;
    private final CommandRunner runner;
    private final VolumeEraser eraser;
    private final OperationListener listener;
    private final Path sysfs;
    private final BusyProbe busy;
    private final KeyedLocks volumeLocks = new KeyedLocks();
    private final PendingCreates pending;

    private volatile LvmCli cli;
    private volatile LvmModel model;
    private volatile Map<String, PoolSetup.Pool> pools = Map.of();
    /** PoolSetup.Pool devices the driver could not take, and why; found at start. */
    private volatile List<UnmanagedExtent> refused = List.of();
    private volatile boolean ready;

    /** The production wiring: lvm through {@link CommandRunner}, erasing with BLKZEROOUT. */
    public LvmDeviceManager(String driverName, PoolDevices source, LvmConfig config, OperationListener listener) {
        this(driverName, source, config, new CommandRunner(), new BlockDeviceEraser(BlockDeviceEraser.Method.ZEROOUT),
                listener, Path.of("/sys"), BlockDevice::isBusy);
    }

    LvmDeviceManager(String driverName, PoolDevices source, LvmConfig config, CommandRunner runner, VolumeEraser eraser,
                     OperationListener listener, Path sysfs, BusyProbe busy) {
        this.naming = new LvmNaming(driverName);
        this.source = source;
        this.config = config;
        this.runner = runner;
        this.eraser = eraser;
        this.listener = listener;
        this.sysfs = sysfs;
        this.busy = busy;
        this.pending = new PendingCreates(config.pendingDir());
    }

    @Override
    public String backendName() {
        return "lvm";
    }

    // ---------------------------------------------------------------- start

    /**
     * Makes every pool device a physical volume of a volume group of the driver (pvcreate with
     * 2 MiB data alignment, vgcreate tagged with the driver name), leaves alone and reports a
     * device that belongs to someone else's volume group or holds a signature, then finishes or
     * undoes what a crash interrupted and activates the volumes.
     */
    @Override
    public synchronized void start() throws DeviceException {
        if (ready) {
            return;
        }
        if (config.activation() && !Files.exists(sysfs.resolve("class/misc/device-mapper"))
                && !Files.exists(Path.of("/dev/mapper/control"))) {
            throw new DeviceException("LVM mode needs device-mapper, which this kernel does not offer:"
                    + " load it with modprobe dm_mod");
        }
        PoolDevices.Preparation prep = source.prepare();
        for (PoolDevices.SkippedRegion s : prep.skipped()) {
            LOG.warn("region {} on {} is not pooled: {}", s.region(), s.bus(), s.reason());
        }
        if (prep.devices().isEmpty()) {
            throw new DeviceException("LVM mode has no pool device from " + source.describe()
                    + (prep.skipped().isEmpty() ? "" : "; skipped: " + prep.skipped()));
        }
        createDirectories();
        LvmCli lvm = new LvmCli(runner, config, prep.devices().stream().map(PoolDevice::devicePath).toList());
        List<UnmanagedExtent> refusedNow = new ArrayList<>();
        for (PoolDevices.SkippedRegion s : prep.skipped()) {
            refusedNow.add(new UnmanagedExtent(s.region(), s.bus() + "/" + s.region(), -1, 0, "not pooled: " + s.reason()));
        }
        Map<String, PoolSetup.Pool> found = new PoolSetup(naming, sysfs).setUp(lvm, prep.devices(), refusedNow);
        if (found.isEmpty()) {
            throw new DeviceException("none of the pool devices (" + source.describe() + ") can be used: "
                    + refusedNow.stream().map(u -> u.name() + ": " + u.reason()).toList());
        }
        this.cli = lvm;
        this.model = new LvmModel(lvm::state);
        this.pools = Map.copyOf(found);
        this.refused = List.copyOf(refusedNow);
        int volumes = recover();
        ready = true;
        LOG.info("LVM mode ready: {} volume groups ({}), {} volumes", found.size(),
                String.join(", ", found.keySet().stream().sorted().toList()), volumes);
    }

    private void createDirectories() throws DeviceException {
        try {
            Files.createDirectories(config.lockDir());
            if (config.backupDir() != null) {
                Files.createDirectories(config.backupDir());
            }
        } catch (IOException e) {
            throw new DeviceException("cannot create lvm's lock or backup directory: " + e, e);
        }
        pending.createDirectory();
    }

    /**
     * What a crash left: volumes of pending creates and volumes tagged as being created are
     * removed, deletes finished; volumes that are not active are activated. Returns the number of
     * volumes.
     */
    private int recover() throws DeviceException {
        LvmReports.State before = model.refresh();
        for (PendingCreates.Pending p : pending.all()) {
            try (KeyedLocks.Held held = volumeLocks.lock(p.volumeId());
                 MDC.MDCCloseable mdc = MDC.putCloseable("volume", p.volumeId())) {
                Optional<Owned> o = owned(before.volumes()).stream()
                        .filter(x -> x.lv().fullName().equals(p.fullName())).findFirst();
                if (o.isPresent()) {
                    removeLogicalVolume(o.get().lv().fullName());
                    LOG.warn("removed {}: an interrupted create of volume {} left it", p.fullName(), p.volumeId());
                } else if (before.volumes().stream().anyMatch(lv -> lv.fullName().equals(p.fullName()))) {
                    LOG.warn("{} of the interrupted create of volume {} lacks the driver's tags: left alone",
                            p.fullName(), p.volumeId());
                }
                pending.clear(p.lv());
            }
        }
        int volumes = 0;
        for (Owned o : owned(model.current().volumes())) {
            try (KeyedLocks.Held held = volumeLocks.lock(o.tags().volumeId());
                 MDC.MDCCloseable mdc = MDC.putCloseable("volume", o.tags().volumeId())) {
                switch (o.tags().state()) {
                    case CREATING -> {
                        removeLogicalVolume(o.lv().fullName());
                        LOG.warn("removed {}: an interrupted create of volume {} left it", o.lv().fullName(),
                                o.tags().volumeId());
                    }
                    case DELETING -> {
                        try {
                            finishDelete(o, o.tags().eraseOnDelete());
                            LOG.warn("finished the interrupted delete of volume {} ({})", o.tags().volumeId(),
                                    o.lv().fullName());
                        } catch (VolumeInUseException e) {
                            LOG.error("the interrupted delete of volume {} cannot finish: {}; a retried DeleteVolume"
                                    + " finishes it", o.tags().volumeId(), e.getMessage());
                        }
                    }
                    case READY -> {
                        volumes++;
                        if (config.activation() && !o.lv().active()) {
                            activate(o.lv().fullName());
                            LOG.info("activated volume {} ({})", o.tags().volumeId(), o.lv().fullName());
                        }
                    }
                }
            }
        }
        return volumes;
    }

    // ---------------------------------------------------------------- lvm changes, with the model

    private void removeLogicalVolume(String fullName) throws DeviceException {
        model.change(() -> {
            cli.remove(fullName);
            model.removed(fullName);
            return null;
        });
    }

    private void activate(String fullName) throws DeviceException {
        model.change(() -> {
            cli.activate(fullName);
            model.activated(fullName);
            return null;
        });
    }

    private void changeTags(String fullName, List<String> add, List<String> delete) throws DeviceException {
        model.change(() -> {
            cli.changeTags(fullName, add, delete);
            model.retagged(fullName, add, delete);
            return null;
        });
    }

    @Override
    public boolean isReady() {
        return ready;
    }

    private LvmCli requireReady() throws DeviceBusyException {
        LvmCli c = cli;
        if (!ready || c == null) {
            throw new DeviceBusyException("LVM mode is not started");
        }
        return c;
    }

    // ---------------------------------------------------------------- volumes

    /** A logical volume of the driver in one of its volume groups, with what its tags say. */
    record Owned(LvmReports.LogicalVolume lv, LvmNaming.VolumeTags tags, PoolSetup.Pool pool) {}

    /** The driver's logical volumes among {@code lvs}, in its own volume groups only. */
    private List<Owned> owned(List<LvmReports.LogicalVolume> lvs) {
        Map<String, PoolSetup.Pool> p = pools;
        List<Owned> out = new ArrayList<>();
        for (LvmReports.LogicalVolume lv : lvs) {
            PoolSetup.Pool pool = p.get(lv.vgName());
            if (pool == null) {
                continue;
            }
            naming.read(lv.tags()).ifPresent(t -> out.add(new Owned(lv, t, pool)));
        }
        return out;
    }

    private Optional<Owned> find(List<LvmReports.LogicalVolume> lvs, String volumeId) {
        // A ready volume wins over leftovers of the same ID, which only start() or a create clean up.
        return owned(lvs).stream().filter(o -> o.tags().volumeId().equals(volumeId))
                .min(Comparator.comparing(o -> o.tags().state()));
    }

    /**
     * The volume of {@code volumeId} as the model has it, or as lvm has it when the model does not:
     * a volume may have been made by another process of the driver (during a rolling update) or
     * the model be behind, and absence decides what a delete or a create does.
     */
    private Optional<Owned> lookUp(String volumeId) throws DeviceException {
        Optional<Owned> known = find(model.current().volumes(), volumeId);
        return known.isPresent() ? known : find(model.refresh().volumes(), volumeId);
    }

    @Override
    public List<PmemVolume> listVolumes() throws DeviceException {
        requireReady();
        return owned(model.current().volumes()).stream().filter(this::isHandedOut)
                .map(this::toVolume).sorted(Comparator.comparing(PmemVolume::id)).toList();
    }

    @Override
    public Optional<PmemVolume> getVolume(String volumeId) throws DeviceException {
        requireReady();
        return lookUp(volumeId).filter(this::isHandedOut).map(this::toVolume);
    }

    /** A ready volume whose create finished: one a caller may have been given. */
    private boolean isHandedOut(Owned o) {
        return o.tags().state() == LvmNaming.State.READY && !pending.isPending(o.lv().name());
    }

    private PmemVolume toVolume(Owned o) {
        long size = o.lv().sizeBytes();
        long capacity = o.tags().capacityBytes() > 0 ? Math.min(o.tags().capacityBytes(), size) : size;
        return new PmemVolume(o.tags().volumeId(), o.pool().device().region(), VolumeMode.FSDAX, size, size,
                Path.of(devicePath(o.lv())), o.pool().dax(), o.tags().eraseAfter(), o.tags().attributes(), capacity,
                o.tags().access());
    }

    private static String devicePath(LvmReports.LogicalVolume lv) {
        return lv.dmPath().isEmpty() ? LvmNaming.deviceMapperPath(lv.vgName(), lv.name()) : lv.dmPath();
    }

    @Override
    public PmemVolume createVolume(VolumeRequest req) throws DeviceException {
        return listener.timed(OperationListener.Kind.CREATE, "volume " + req.volumeId(), () -> create(req));
    }

    private PmemVolume create(VolumeRequest req) throws DeviceException {
        requireReady();
        try (KeyedLocks.Held held = volumeLocks.lock(req.volumeId());
             MDC.MDCCloseable mdc = MDC.putCloseable("volume", req.volumeId())) {
            Optional<PmemVolume> made = create(req, model.current());
            // Not in the model but in lvm: another process of the driver made it; as lvm has it now.
            return made.isPresent() ? made.get() : create(req, model.refresh()).orElseThrow(() -> new DeviceException(
                    "logical volume " + LvmNaming.logicalVolumeName(req.volumeId()) + " of volume " + req.volumeId()
                            + " keeps appearing while it is created"));
        }
    }

    /** The create, with the volume's lock held; empty when lvm has the volume although {@code state} does not. */
    private Optional<PmemVolume> create(VolumeRequest req, LvmReports.State state) throws DeviceException {
        LvmCli c = cli;
        String id = req.volumeId();
        Optional<Owned> existing = find(state.volumes(), id);
        if (existing.isPresent()) {
            Owned o = existing.get();
            switch (o.tags().state()) {
                case READY -> {
                    if (!pending.isPending(o.lv().name())) {
                        return Optional.of(req.requireSatisfiedBy(toVolume(o)));
                    }
                    // An earlier create of this ID could not wipe the volume or undo itself.
                    removeLogicalVolume(o.lv().fullName());
                    pending.clear(o.lv().name());
                    LOG.warn("removed {}: an earlier create of volume {} did not finish", o.lv().fullName(), id);
                }
                case DELETING -> {
                    // A delete of this ID gave up half way; it finishes, with the erase it
                    // recorded, before the ID names a new volume.
                    finishDelete(o, o.tags().eraseOnDelete());
                }
                case CREATING -> {
                    removeLogicalVolume(o.lv().fullName());
                    LOG.warn("removed {}: an earlier create of volume {} did not finish", o.lv().fullName(), id);
                }
            }
        }
        if (req.mode() != VolumeMode.FSDAX) {
            throw new NoSpaceException("LVM mode serves only fsdax volumes (usage=AppDirect): a " + req.mode()
                    + " volume (usage=FileIO) needs a namespace of its own, which direct mode makes");
        }
        long required = req.requiredOrDefault();
        if (req.limitBytes() != 0 && req.limitBytes() < EXTENT_BYTES) {
            throw new OutOfRangeException("limit_bytes " + req.limitBytes() + " is below the smallest LVM volume,"
                    + " one extent of " + EXTENT_BYTES + " bytes");
        }
        long raw = CapacityMath.roundUp(required, EXTENT_BYTES);
        long capacity = CapacityMath.capacityBytes(raw, req.limitBytes());
        String lv = LvmNaming.logicalVolumeName(id);
        List<String> tags = naming.tagsOf(id, req.eraseAfter(), capacity < raw ? capacity : 0, req.access(),
                req.attributes());
        PoolSetup.Pool pool = place(model.current(), raw, required);
        Made m = makeLogicalVolume(c, pool, lv, raw, tags, id);
        if (m == Made.NO_SPACE) {
            // lvm had less room than the model: what it reported after the refusal decides, once.
            pool = place(model.current(), raw, required);
            m = makeLogicalVolume(c, pool, lv, raw, tags, id);
            if (m == Made.NO_SPACE) {
                throw new NoSpaceException("volume group " + pool.vg() + " no longer has " + raw + " free bytes"
                        + " for volume " + id + " (another volume took them)");
            }
        }
        if (m == Made.EXISTS) {
            return Optional.empty();
        }
        String full = pool.vg() + "/" + lv;
        FaultPoints.reached(FAULT_CREATE_RECORDED);
        Path device = Path.of(LvmNaming.deviceMapperPath(pool.vg(), lv));
        try {
            if (config.activation()) {
                eraser.wipeSignatures(id, device);
            }
            FaultPoints.reached(FAULT_CREATE_ATTACHED);
            pending.clear(lv);
        } catch (DeviceException e) {
            rollBack(full, lv, id);
            throw e;
        }
        PmemVolume v = new PmemVolume(id, pool.device().region(), VolumeMode.FSDAX, raw, raw, device, pool.dax(),
                req.eraseAfter(), req.attributes(), capacity, req.access());
        LOG.info("created volume {} as {} in {} ({} bytes, capacity {}, for {})", id, full,
                pool.device().region(), raw, capacity, v.access().describe());
        return Optional.of(v);
    }

    /** What {@link #makeLogicalVolume} did. */
    private enum Made { MADE, NO_SPACE, EXISTS }

    /**
     * Records the create, then makes the logical volume with all its tags in one lvm metadata
     * change. Nothing is made and no record left when lvm finds too few free extents in the
     * volume group ({@link Made#NO_SPACE}) or a volume of that name that the model did not know
     * ({@link Made#EXISTS}), which is never touched here.
     */
    private Made makeLogicalVolume(LvmCli c, PoolSetup.Pool pool, String lv, long raw, List<String> tags, String id)
            throws DeviceException {
        String full = pool.vg() + "/" + lv;
        pending.record(new PendingCreates.Pending(pool.vg(), lv, id));
        try {
            model.change(() -> {
                c.createLogicalVolume(pool.vg(), lv, raw, tags);
                model.created(new LvmReports.LogicalVolume(lv, pool.vg(), "", raw, tags,
                        config.activation() ? "-wi-a-----" : "-wi-------", LvmNaming.deviceMapperPath(pool.vg(), lv),
                        List.of()));
                return null;
            });
            return Made.MADE;
        } catch (LvmException e) {
            if (LvmCli.exists(e)) {
                pending.clear(lv);
                LOG.warn("{} exists although the driver's last report did not show it: {}", full, e.getMessage());
                return Made.EXISTS;
            }
            // lvm undoes a create it could not finish; whether it did, its report tells.
            boolean made = model.refresh().volumes().stream().anyMatch(x -> x.fullName().equals(full));
            if (made) {
                rollBack(full, lv, id);
            } else {
                pending.clear(lv);
            }
            if (LvmCli.noSpace(e) && !made) {
                LOG.info("volume group {} had less room for volume {} than last reported: {}", pool.vg(), id,
                        e.getMessage());
                return Made.NO_SPACE;
            }
            throw e;
        }
    }

    /**
     * The volume group for a new volume of {@code raw} bytes: best fit over the volume groups'
     * free space, as every backend places volumes ({@link RegionLayout}). LVM spans free extents,
     * so a volume group's whole free space is one candidate; ties go to the lower region name.
     */
    private PoolSetup.Pool place(LvmReports.State state, long raw, long required) throws DeviceException {
        Map<String, PoolSetup.Pool> p = pools;
        List<RegionLayout> layouts = new ArrayList<>();
        StringBuilder free = new StringBuilder();
        List<LvmReports.VolumeGroup> vgs = state.groups().stream().filter(vg -> p.containsKey(vg.name()))
                .sorted(Comparator.comparing(vg -> p.get(vg.name()).device().region())).toList();
        for (LvmReports.VolumeGroup vg : vgs) {
            long extent = vg.extentBytes() > 0 ? vg.extentBytes() : EXTENT_BYTES;
            long available = CapacityMath.alignDown(vg.freeBytes(), extent);
            layouts.add(RegionLayout.reported(vg.name(), p.get(vg.name()).device().numaNode(), Math.max(vg.sizeBytes(), extent),
                    extent, available, available, 0));
            free.append(free.length() == 0 ? "" : ", ").append(p.get(vg.name()).device().region()).append('=').append(available);
        }
        RegionLayout chosen = RegionLayout.chooseRegion(layouts, raw).orElseThrow(() -> new NoSpaceException(
                "no volume group has room for a volume of " + required + " bytes (" + raw + " in whole extents);"
                        + " free bytes: " + (free.length() == 0 ? "none" : free)));
        return p.get(chosen.region());
    }

    /**
     * Undoes a create that failed in this process; the volume never held data. Its record goes
     * only with it, so that a volume left behind is removed by the next create of its ID or start.
     */
    private void rollBack(String full, String lv, String id) {
        try {
            removeLogicalVolume(full);
            pending.clear(lv);
        } catch (DeviceException e) {
            LOG.warn("cannot remove {} of the failed create of volume {}: {}; the next create of it or a restart will",
                    full, id, e.getMessage());
        }
    }

    /**
     * Deletes the volume. Its data is zeroed when the caller asks, or the volume was created with
     * {@code eraseafter}, and a failure to zero fails the delete with the volume kept, tagged
     * {@code deleting}, for a retry to finish.
     */
    @Override
    public void deleteVolume(String volumeId, boolean erase) throws DeviceException {
        listener.timed(OperationListener.Kind.DELETE, "volume " + volumeId, () -> {
            requireReady();
            try (KeyedLocks.Held held = volumeLocks.lock(volumeId); MDC.MDCCloseable mdc = MDC.putCloseable("volume", volumeId)) {
                Optional<Owned> o = lookUp(volumeId);
                if (o.isPresent()) {
                    LvmNaming.VolumeTags t = o.get().tags();
                    finishDelete(o.get(), erase || t.eraseAfter() || t.eraseOnDelete());
                    LOG.info("deleted volume {} ({}{})", volumeId, o.get().lv().fullName(),
                            erase || t.eraseAfter() || t.eraseOnDelete() ? ", erased" : "");
                }
            }
            return null;
        });
    }

    /**
     * The steps of a delete, each a no-op when already done: refuse a volume in use before
     * anything changes; with {@code erase}, record the delete and zero the data; remove the volume.
     */
    private void finishDelete(Owned o, boolean erase) throws DeviceException {
        String id = o.tags().volumeId();
        String full = o.lv().fullName();
        Path device = Path.of(devicePath(o.lv()));
        if (config.activation() && o.lv().active() && isBusy(device)) {
            throw new VolumeInUseException("volume " + id + " cannot be deleted: " + device + " is mounted or open");
        }
        if (!erase) {
            // One atomic lvm change: nothing for a crash to leave half done, and no tag to set first.
            remove(o, device);
            return;
        }
        List<String> add = new ArrayList<>();
        if (o.tags().state() != LvmNaming.State.DELETING) {
            add.add(naming.stateTag(LvmNaming.STATE_DELETING));
        }
        if (!o.tags().eraseOnDelete()) {
            add.add(naming.eraseOnDeleteTag());
        }
        changeTags(full, add, o.tags().state() == LvmNaming.State.CREATING
                ? List.of(naming.stateTag(LvmNaming.STATE_CREATING)) : List.of());
        FaultPoints.reached(FAULT_DELETE_RECORDED);
        if (config.activation()) {
            if (!o.lv().active()) {
                activate(full);
            }
            listener.timed(OperationListener.Kind.ERASE, "volume " + id + " on " + device, () -> {
                eraser.erase(id, device);
                return null;
            });
            FaultPoints.reached(FAULT_DELETE_ERASED);
        }
        remove(o, device);
    }

    /**
     * lvremove, and the record of a create of the volume that never finished. A volume that lvm
     * no longer has when asked to remove it (someone else removed it) counts as removed.
     */
    private void remove(Owned o, Path device) throws DeviceException {
        String full = o.lv().fullName();
        try {
            removeLogicalVolume(full);
        } catch (LvmException e) {
            if (LvmCli.inUse(e)) {
                throw new VolumeInUseException("volume " + o.tags().volumeId() + " cannot be removed, " + device
                        + " is open; a retried delete finishes it: " + e.getMessage(), e);
            }
            if (model.refresh().volumes().stream().anyMatch(x -> x.fullName().equals(full))) {
                throw e;
            }
            LOG.warn("{} of volume {} was gone when lvremove ran: {}", full, o.tags().volumeId(), e.getMessage());
        }
        pending.clear(o.lv().name());
    }

    private boolean isBusy(Path device) throws DeviceException {
        try {
            return busy.isBusy(device);
        } catch (NativeException e) {
            throw new DeviceException("cannot tell whether " + device + " is in use: " + e.getMessage(), e);
        }
    }

    // ---------------------------------------------------------------- growth

    /** Logical volumes grow in place, also while mounted: lvextend takes free extents wherever they are. */
    @Override
    public Expansion expansion() {
        return Expansion.ONLINE;
    }

    @Override
    public PmemVolume expandVolume(String volumeId, long requiredBytes, long limitBytes, boolean inUse)
            throws DeviceException {
        LvmCli c = requireReady();
        try (KeyedLocks.Held held = volumeLocks.lock(volumeId); MDC.MDCCloseable mdc = MDC.putCloseable("volume", volumeId)) {
            Owned o = lookUp(volumeId).filter(this::isHandedOut)
                    .orElseThrow(() -> new VolumeNotFoundException("volume " + volumeId + " not found"));
            LvmReports.State state = model.current();
            if (requiredBytes < 0 || limitBytes < 0) {
                throw new OutOfRangeException("required_bytes and limit_bytes must not be negative: " + requiredBytes
                        + ", " + limitBytes);
            }
            if (limitBytes != 0 && limitBytes < requiredBytes) {
                throw new OutOfRangeException("limit_bytes " + limitBytes + " is below required_bytes " + requiredBytes);
            }
            PmemVolume before = toVolume(o);
            if (requiredBytes == 0 || requiredBytes <= before.capacityBytes()) {
                return before;
            }
            if (limitBytes != 0 && limitBytes < EXTENT_BYTES) {
                throw new OutOfRangeException("limit_bytes " + limitBytes + " is below the smallest LVM volume, one extent of "
                        + EXTENT_BYTES + " bytes");
            }
            long raw = Math.max(o.lv().sizeBytes(), CapacityMath.roundUp(requiredBytes, EXTENT_BYTES));
            long groupBytes = state.groups().stream().filter(vg -> vg.name().equals(o.pool().vg()))
                    .mapToLong(LvmReports.VolumeGroup::sizeBytes).findFirst().orElse(Long.MAX_VALUE);
            if (raw > groupBytes) {
                throw new OutOfRangeException("volume " + volumeId + " cannot grow to " + requiredBytes + " bytes: it stays"
                        + " in volume group " + o.pool().vg() + " of " + o.pool().device().region() + ", which holds "
                        + groupBytes + " bytes");
            }
            if (raw > o.lv().sizeBytes()) {
                try {
                    model.change(() -> {
                        c.extend(o.lv().fullName(), raw);
                        model.resized(o.lv().fullName(), raw);
                        return null;
                    });
                } catch (LvmException e) {
                    if (LvmCli.noSpace(e)) {
                        throw new NoSpaceException("volume group " + o.pool().vg() + " has not " + (raw - o.lv().sizeBytes())
                                + " free bytes for volume " + volumeId + " to grow to " + raw + ": " + e.getMessage(), e);
                    }
                    throw e;
                }
                FaultPoints.reached(FAULT_EXPAND_RESIZED);
            }
            long capacity = CapacityMath.capacityBytes(raw, limitBytes);
            List<String> add = capacity < raw && !o.lv().tags().contains(naming.capacityTag(capacity))
                    ? List.of(naming.capacityTag(capacity)) : List.of();
            List<String> delete = naming.capacityTags(o.lv().tags()).stream()
                    .filter(t -> capacity >= raw || !t.equals(naming.capacityTag(capacity))).toList();
            changeTags(o.lv().fullName(), add, delete);
            LOG.info("grew volume {} ({}) in place: {} -> {} bytes, capacity {} -> {}", volumeId, o.lv().fullName(),
                    o.lv().sizeBytes(), raw, before.capacityBytes(), capacity);
            return new PmemVolume(volumeId, before.region(), VolumeMode.FSDAX, raw, raw, before.devicePath(),
                    before.daxCapable(), before.eraseAfter(), before.attributes(), capacity, before.access());
        }
    }

    // ---------------------------------------------------------------- capacity and health

    /**
     * Per volume group: its size, its free extents (all of them: LVM spans them, so the largest
     * volume is the whole free space) and the bytes of the driver's logical volumes. Space of
     * logical volumes that are not the driver's is neither free nor used.
     */
    @Override
    public Capacity capacity() throws DeviceException {
        requireReady();
        Map<String, PoolSetup.Pool> p = pools;
        LvmReports.State state = model.current();
        List<Owned> owned = owned(state.volumes());
        List<RegionCapacity> regions = new ArrayList<>();
        for (LvmReports.VolumeGroup vg : state.groups()) {
            PoolSetup.Pool pool = p.get(vg.name());
            if (pool == null) {
                continue;
            }
            long extent = vg.extentBytes() > 0 ? vg.extentBytes() : EXTENT_BYTES;
            long free = CapacityMath.alignDown(vg.freeBytes(), extent);
            long used = owned.stream().filter(o -> o.pool() == pool).mapToLong(o -> o.lv().sizeBytes()).sum();
            regions.add(new RegionCapacity(pool.device().region(), pool.device().numaNode(), extent, vg.sizeBytes(), free,
                    free, used, true, pool.device().technology()));
        }
        regions.sort(Comparator.comparing(RegionCapacity::region));
        return new Capacity(regions);
    }

    @Override
    public VolumeHealth volumeHealth(String volumeId) throws DeviceException {
        requireReady();
        // Health is read afresh: lvm's attributes (active, failed) change without the driver.
        Owned o = find(model.refresh().volumes(), volumeId).filter(this::isHandedOut)
                .orElseThrow(() -> new VolumeNotFoundException("volume " + volumeId + " not found"));
        String pv = o.pool().device().devicePath();
        long bad = LvmHealth.badSectorsIn(o.lv().peRanges(), pv, o.pool().peStart(), o.pool().extentBytes(),
                LvmHealth.badBlocks(sysfs, Path.of(pv).getFileName().toString()));
        return LvmHealth.of(o.lv(), bad, Files.exists(Path.of(devicePath(o.lv()))));
    }

    /** No module data here (the pool devices may be anything); the bad blocks of each pool device by region. */
    @Override
    public DeviceHealth deviceHealth() throws DeviceException {
        requireReady();
        Map<String, Long> bad = new LinkedHashMap<>();
        for (PoolSetup.Pool p : pools.values()) {
            bad.put(p.device().region(), LvmHealth.total(LvmHealth.badBlocks(sysfs,
                    Path.of(p.device().devicePath()).getFileName().toString())));
        }
        return new DeviceHealth(List.of(), bad);
    }

    /**
     * PoolSetup.Pool devices the driver could not take at start (someone else's physical volume, a device
     * with a signature, a region the pool source skipped), logical volumes in the driver's volume
     * groups that are not its volumes, and volumes whose create or delete did not finish.
     */
    @Override
    public List<UnmanagedExtent> unmanagedExtents() throws DeviceException {
        requireReady();
        Map<String, PoolSetup.Pool> p = pools;
        List<UnmanagedExtent> out = new ArrayList<>(refused);
        for (LvmReports.LogicalVolume lv : model.current().volumes()) {
            PoolSetup.Pool pool = p.get(lv.vgName());
            if (pool == null) {
                continue;
            }
            Optional<LvmNaming.VolumeTags> t = naming.read(lv.tags());
            String reason = t.isEmpty() ? "logical volume the driver does not own"
                    : t.get().state() == LvmNaming.State.CREATING || pending.isPending(lv.name())
                    ? "unfinished create of volume " + t.get().volumeId() + " (removed by the next start or create)"
                    : t.get().state() == LvmNaming.State.DELETING
                    ? "unfinished delete of volume " + t.get().volumeId() + " (finished by a retried delete or the next start)"
                    : null;
            if (reason != null) {
                out.add(new UnmanagedExtent(pool.device().region(), lv.fullName(), -1, lv.sizeBytes(), reason));
            }
        }
        return out;
    }

    /** Volumes stay active: they outlive the driver process. */
    @Override
    public synchronized void close() {
        ready = false;
    }
}
