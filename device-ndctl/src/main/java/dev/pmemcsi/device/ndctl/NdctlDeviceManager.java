package dev.pmemcsi.device.ndctl;

import dev.pmemcsi.device.BlockDeviceEraser;
import dev.pmemcsi.device.Capacity;
import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.DeviceBusyException;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceGoneException;
import dev.pmemcsi.device.DeviceHealth;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.FaultPoints;
import dev.pmemcsi.device.KeyedLocks;
import dev.pmemcsi.device.NoSpaceException;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.OutOfRangeException;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.RegionCapacity;
import dev.pmemcsi.device.RegionLayout;
import dev.pmemcsi.device.UnmanagedExtent;
import dev.pmemcsi.device.VolumeEraser;
import dev.pmemcsi.device.VolumeHealth;
import dev.pmemcsi.device.VolumeInUseException;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeNotFoundException;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.ndctl.BadBlock;
import dev.pmemcsi.ndctl.NamespaceInfo;
import dev.pmemcsi.ndctl.NamespaceMode;
import dev.pmemcsi.ndctl.NamespaceSpec;
import dev.pmemcsi.ndctl.NdctlException;
import dev.pmemcsi.ndctl.RawEraser;
import dev.pmemcsi.ndctl.RegionInfo;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.ToLongFunction;
import jnr.constants.platform.Errno;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Direct mode: one PMEM namespace per volume, made and destroyed through libndctl.
 *
 * <p>The namespace labels on the DIMMs are the only state: a volume is an allocated, enabled
 * fsdax or sector namespace whose name is the volume ID and whose UUID is derived from it (see
 * {@link VolumeNamespaces}). Every read takes a fresh snapshot from the kernel, so namespaces
 * changed by a restart, a reboot or the ndctl CLI are seen as they are. Namespaces of anyone else
 * are never changed, only reported by {@link #unmanagedExtents()}.
 *
 * <p>Namespace creates and destroys are serialised host-wide by the bindings' namespace lock;
 * calls for one volume ID are serialised here. Erasing a volume's data runs outside the namespace
 * lock, so it does not hold up other volumes.
 *
 * <p>Crash safety: a create allocates label space before the namespace is enabled. If the driver
 * dies in between, an allocated but inactive namespace of ours remains. {@link #start()} and every
 * create destroy such leftovers under the namespace lock, where no create of this process can be
 * in flight, so nothing leaks and a half-made namespace never becomes a volume.
 *
 * <p>Growth: an fsdax namespace cannot grow in place (its data offset depends on the page map,
 * which is sized for the namespace), so a volume grows by moving, while it is not in use: a new
 * namespace of the next generation (see {@link VolumeNamespaces}) with the volume's name, the old
 * device's bytes copied onto it, then the old namespace destroyed. While both exist the older one is
 * the volume, so a crash before the old namespace is gone leaves the old volume, complete, and
 * {@link #start()} destroys the unfinished copy; the destroy of the old one only begins once the copy
 * is durable, so an old namespace found disabled or without its info block means the new one is
 * complete, and {@link #start()} finishes the destroy.
 *
 * <p>At about 700 lines it is longer than the other classes on purpose: the mapping between
 * namespaces and volumes, and the translation of libndctl's failures, are read together with the
 * operations that use them, the move included; naming, erasing, health, copying and which
 * namespace of a moving volume is current ({@link MoveLineage}) live in their own classes.
 */
public final class NdctlDeviceManager implements DeviceManager {

    private static final Logger log = LoggerFactory.getLogger(NdctlDeviceManager.class);

    /**
     * Why direct mode cannot use a label-less region, and what can. Such a region (e820 PMEM, or
     * NVDIMMs without a label area) holds one namespace over all of it, and the kernel refuses a second.
     */
    static final String LABELLESS = "a label-less region holds one namespace over all of it and the kernel refuses to "
            + "divide it (\"Legacy / label-less namespaces do not support sub-dividing a region\"), so direct mode "
            + "cannot make volumes there; LVM mode (--device-manager lvm) uses such a region whole, as one pool device";

    /** The region alignment the kernel uses when a region reports none. */
    static final long DEFAULT_REGION_ALIGN = 16 * CapacityMath.MIB;

    private final NamespaceBackend backend;
    private final VolumeEraser eraser;
    private final VolumeNamespaces naming;
    private final PoolNamespaces pool;
    private final OperationListener listener;
    private final RegionPreference preference;
    private final VolumeCopier copier;
    private final MoveLineage moves;
    /** Named steps of a move, where tests make the process die; see {@link FaultPoints}. */
    private Consumer<String> steps = FaultPoints::reached;
    private final KeyedLocks idLocks = new KeyedLocks();
    /** Attributes of volumes created by this process; the labels have no room for them. */
    private final Map<String, Map<String, String>> attributes = new ConcurrentHashMap<>();
    private volatile boolean started;
    private volatile boolean closed;

    /**
     * The production wiring: libndctl, erasing with BLKZEROOUT. Under emulation neither erase
     * method was consistently faster (see NdctlProvisioningBenchmark); BLKZEROOUT needs no buffer
     * and lets the kernel use a device's native zeroing where there is one.
     */
    public NdctlDeviceManager(String driverName) {
        this(driverName, new LibNdctlBackend(), new BlockDeviceEraser(BlockDeviceEraser.Method.ZEROOUT));
    }

    public NdctlDeviceManager(String driverName, NamespaceBackend backend, VolumeEraser eraser) {
        this(driverName, backend, eraser, OperationListener.NONE);
    }

    /** @param listener is told about every create, delete and erase of a volume */
    public NdctlDeviceManager(String driverName, NamespaceBackend backend, VolumeEraser eraser, OperationListener listener) {
        this(driverName, backend, eraser, listener, RegionPreference.NVDIMM);
    }

    /** @param preference which kind of region, NVDIMM or CXL, new volumes go to first */
    public NdctlDeviceManager(String driverName, NamespaceBackend backend, VolumeEraser eraser, OperationListener listener,
            RegionPreference preference) {
        this(driverName, backend, eraser, listener, preference, new DirectVolumeCopier());
    }

    NdctlDeviceManager(String driverName, NamespaceBackend backend, VolumeEraser eraser, OperationListener listener,
                       VolumeCopier copier) {
        this(driverName, backend, eraser, listener, RegionPreference.NVDIMM, copier);
    }

    NdctlDeviceManager(String driverName, NamespaceBackend backend, VolumeEraser eraser, OperationListener listener,
                       RegionPreference preference, VolumeCopier copier) {
        this.preference = preference;
        this.copier = copier;
        this.naming = new VolumeNamespaces(driverName);
        this.moves = new MoveLineage(naming, ns -> toVolume(ns).isPresent());
        this.pool = new PoolNamespaces(driverName);
        this.backend = backend;
        this.eraser = eraser;
        this.listener = listener;
    }

    // Test-only crash points of a move (see FaultPoints), in the order they are reached.
    static final String FAULT_MOVE_CREATED = "ndctl-move-created";
    static final String FAULT_MOVE_COPIED = "ndctl-move-copied";
    static final String FAULT_MOVE_DONE = "ndctl-move-done";

    /** Replaces the crash points of a move, so that a test can stop a move at any of them. */
    void onMoveStep(Consumer<String> hook) {
        this.steps = hook;
    }

    @Override
    public String backendName() {
        return "ndctl";
    }

    @Override
    public void start() throws DeviceException {
        try {
            backend.load();
        } catch (NdctlException e) {
            throw new DeviceException("direct mode needs libndctl: " + e.getMessage(), e);
        }
        List<RegionInfo> regions = read(backend::regions);
        if (read(backend::buses).isEmpty()) {
            throw new DeviceException("no NVDIMM bus: load the nfit and nd_pmem modules (modprobe nfit nd_pmem), "
                    + "and check that the platform exposes NVDIMMs");
        }
        List<RegionInfo> disabled = disabledRegions(regions);
        for (RegionInfo r : disabled) {
            log.warn("region {} ({}, {}) is disabled: {}", r.devname(), r.bus(), r.provider(), disabledReason(r));
        }
        if (managedRegions(regions).isEmpty()) {
            throw new DeviceException("no enabled, writable PMEM region on the NVDIMM bus: "
                    + "check the DIMMs' region configuration and that the regions are enabled (ndctl list -R); "
                    + "CXL memory needs a PMEM region assembled first (cxl create-region, docs/cxl.md)"
                    + (disabled.isEmpty() ? "" : "; disabled: " + describe(disabled) + ", which the driver leaves alone"
                            + (disabled.stream().anyMatch(r -> RegionTechnology.of(r).equals(RegionTechnology.CXL))
                                    ? " (" + CXL_DISABLED + ")" : "")));
        }
        Set<String> targets = moveTargets(managedRegions(regions));
        for (RegionInfo r : managedRegions(regions)) {
            if (!r.labelled()) {
                log.warn("region {} ({}, {}) is label-less: {}", r.devname(), r.bus(), r.provider(), LABELLESS);
            }
            RegionCapacity c = capacityOf(r, targets);
            log.info("region {} on {} ({}, {}): {} bytes, {} free, largest free extent {}", r.devname(), r.bus(),
                    r.provider(), c.technology(), c.totalBytes(), c.availableBytes(), c.maxExtentBytes());
        }
        List<NamespaceInfo> cleaned = change(() -> backend.destroy(this::isLeftover));
        for (NamespaceInfo ns : cleaned) {
            log.warn("destroyed {} in {}: an interrupted create or delete of volume {} left it allocated but not enabled",
                    ns.devname(), ns.region(), ns.altName());
        }
        finishMoves();
        List<PmemVolume> volumes = listVolumes();
        log.info("direct mode ready: {} volumes recovered from the namespace labels in {} regions; new volumes go to {}",
                volumes.size(), managedRegions(regions).size(), preference == RegionPreference.NONE
                        ? "the best-fitting region of any kind" : preference.optionValue() + " regions first");
        started = true;
        closed = false;
    }

    @Override
    public boolean isReady() {
        return started && !closed;
    }

    @Override
    public List<PmemVolume> listVolumes() throws DeviceException {
        List<PmemVolume> result = new ArrayList<>();
        List<RegionInfo> regions = managedRegions(read(backend::regions));
        Set<String> targets = moveTargets(regions);
        for (RegionInfo r : regions) {
            for (NamespaceInfo ns : r.namespaces()) {
                if (!targets.contains(ns.devname())) {
                    toVolume(ns).ifPresent(result::add);
                }
            }
        }
        result.sort(Comparator.comparing(PmemVolume::id));
        return result;
    }

    @Override
    public Optional<PmemVolume> getVolume(String volumeId) throws DeviceException {
        return volumeIn(managedRegions(read(backend::regions)), volumeId);
    }

    @Override
    public PmemVolume createVolume(VolumeRequest req) throws DeviceException {
        return listener.timed(OperationListener.Kind.CREATE, "volume " + req.volumeId(), () -> create(req));
    }

    private PmemVolume create(VolumeRequest req) throws DeviceException {
        String id = req.volumeId();
        try (KeyedLocks.Held lock = idLocks.lock(id); MDC.MDCCloseable m = MDC.putCloseable("volume", id)) {
            long required = req.requiredOrDefault();
            List<RegionInfo> regions = managedRegions(read(backend::regions));
            Optional<PmemVolume> existing = volumeIn(regions, id);
            if (existing.isPresent()) {
                return req.requireSatisfiedBy(existing.get());
            }
            List<RegionInfo> divisible = regions.stream().filter(RegionInfo::labelled).toList();
            if (divisible.isEmpty() && !regions.isEmpty()) {
                throw new NoSpaceException("no region of this node can be divided into volumes: "
                        + describe(regions) + (regions.size() == 1 ? " is" : " are") + " label-less; " + LABELLESS);
            }
            // Sorted by name: of two regions that fit alike, the lower name is chosen.
            Set<String> targets = moveTargets(regions);
            List<RegionLayout> layouts = regions.stream().map(r -> layoutOf(r, targets))
                    .sorted(Comparator.comparing(RegionLayout::region)).toList();
            CapacityMath.checkLimit(req.mode(), req.limitBytes(),
                    layouts.stream().mapToLong(RegionLayout::alignment).toArray());
            RegionLayout chosen = choose(regions, layouts,
                    r -> CapacityMath.rawBytesFor(req.mode(), required, r.alignment())).orElseThrow(() ->
                    new NoSpaceException("no region has room for a " + req.mode() + " volume of " + required
                            + " usable bytes; largest free extents: " + largestExtents(regions)
                            + (divisible.size() < regions.size() ? "; the label-less regions cannot be divided into volumes, "
                                    + "LVM mode (--device-manager lvm) can use them" : "")));
            long raw = CapacityMath.rawBytesFor(req.mode(), required, chosen.alignment());
            // The capacity goes into the UUID, which is set before the namespace has a size, so a
            // limited one comes from the model and the device is checked against it once it
            // exists. Without a limit the capacity is the whole device (recorded as 0).
            long capacity = req.limitBytes() == 0 ? 0
                    : CapacityMath.capacityBytes(CapacityMath.usableBytes(req.mode(), raw), req.limitBytes());
            NamespaceSpec spec = new NamespaceSpec(namespaceMode(req.mode()), raw, id,
                    naming.uuidFor(id, req.eraseAfter(), capacity, req.access()),
                    NamespaceSpec.DEFAULT_ALIGN, NamespaceSpec.DEFAULT_SECTOR_SIZE);
            NamespaceInfo created = change(() -> backend.create(chosen.region(), spec, this::isLeftover));
            PmemVolume volume = toVolume(created).orElseThrow(() ->
                    new DeviceException("namespace " + created.devname() + " of volume " + id + " was created but is not usable: "
                            + created));
            if (volume.usableBytes() < capacity || volume.usableBytes() < required) {
                destroyQuietly(id);
                throw new DeviceException("namespace " + created.devname() + " of " + raw + " bytes offers "
                        + volume.usableBytes() + " usable bytes, less than the capacity " + capacity
                        + " and the required " + required + "; it was destroyed again");
            }
            try {
                eraser.wipeSignatures(id, volume.devicePath());
            } catch (DeviceException e) {
                destroyQuietly(id);
                throw e;
            }
            if (!req.attributes().isEmpty()) {
                attributes.put(id, req.attributes());
            }
            log.info("created volume {} as {} in {} ({} bytes raw, {} usable, capacity {}, for {})", id, created.devname(),
                    created.region(), created.sizeBytes(), volume.usableBytes(), volume.capacityBytes(),
                    volume.access().describe());
            return withAttributes(volume);
        }
    }

    @Override
    public void deleteVolume(String volumeId, boolean erase) throws DeviceException {
        listener.timed(OperationListener.Kind.DELETE, "volume " + volumeId, () -> {
            delete(volumeId, erase);
            return null;
        });
    }

    private void delete(String volumeId, boolean erase) throws DeviceException {
        try (KeyedLocks.Held lock = idLocks.lock(volumeId); MDC.MDCCloseable m = MDC.putCloseable("volume", volumeId)) {
            if (erase) {
                // Both namespaces of an unfinished move hold the volume's data.
                for (NamespaceInfo ns : namespacesOf(volumeId)) {
                    if (ns.active() && !ns.blockDevice().isEmpty()) {
                        erase(volumeId, Path.of("/dev", ns.blockDevice()));
                    }
                }
            }
            List<NamespaceInfo> destroyed = change(() -> backend.destroy(info -> naming.isVolume(info, volumeId)));
            attributes.remove(volumeId);
            for (NamespaceInfo d : destroyed) {
                log.info("deleted volume {}: destroyed {} in {}", volumeId, d.devname(), d.region());
            }
        }
    }

    /** A namespace cannot grow in place (see the class comment): volumes grow by moving, while unused. */
    @Override
    public Expansion expansion() {
        return Expansion.OFFLINE;
    }

    @Override
    public PmemVolume expandVolume(String volumeId, long requiredBytes, long limitBytes, boolean inUse)
            throws DeviceException {
        try (KeyedLocks.Held lock = idLocks.lock(volumeId); MDC.MDCCloseable m = MDC.putCloseable("volume", volumeId)) {
            return grow(volumeId, requiredBytes, limitBytes, inUse);
        }
    }

    private PmemVolume grow(String id, long required, long limit, boolean inUse) throws DeviceException {
        if (required < 0 || limit < 0) {
            throw new OutOfRangeException("required_bytes and limit_bytes must not be negative: " + required + ", " + limit);
        }
        if (limit != 0 && limit < required) {
            throw new OutOfRangeException("limit_bytes " + limit + " is below required_bytes " + required);
        }
        List<RegionInfo> regions = managedRegions(read(backend::regions));
        NamespaceInfo old = currentNamespace(regions, id).orElseThrow(() ->
                new VolumeNotFoundException("volume " + id + " not found"));
        PmemVolume before = toVolume(old).orElseThrow();
        if (required == 0 || required <= before.capacityBytes()) {
            return withAttributes(before);
        }
        CapacityMath.checkLimit(before.mode(), limit, regions.stream().mapToLong(NdctlDeviceManager::alignment).toArray());
        List<RegionInfo> divisible = regions.stream().filter(RegionInfo::labelled).toList();
        long largest = divisible.stream().mapToLong(RegionInfo::sizeBytes).max().orElse(0);
        long smallestRaw = divisible.stream().mapToLong(r -> rawFor(before, required, r)).min().orElse(Long.MAX_VALUE);
        if (smallestRaw > largest) {
            throw new OutOfRangeException("volume " + id + " cannot grow to " + required + " bytes: a " + before.mode()
                    + " volume of that size takes more than the largest region of this node (" + largest + " bytes)");
        }
        if (inUse) {
            throw new VolumeInUseException("volume " + id + " is staged or published: a namespace cannot grow in place,"
                    + " and moving it to a larger one needs the volume unused");
        }
        // The same region when it has room, so that the volume stays where it was; any other else.
        Set<String> targets = moveTargets(regions);
        List<RegionLayout> layouts = regions.stream().map(r -> layoutOf(r, targets))
                .sorted(Comparator.comparing((RegionLayout l) -> !l.region().equals(old.region()))
                        .thenComparing(RegionLayout::region)).toList();
        RegionLayout chosen = layouts.stream()
                .filter(l -> regionNamed(regions, l.region()).labelled())
                .filter(l -> l.capacity().maxExtentBytes() >= rawFor(before, required, regionNamed(regions, l.region())))
                .findFirst().orElseThrow(() -> new NoSpaceException("no region has room for volume " + id + " grown to "
                        + required + " bytes (it grows by moving to a new namespace, while the old one still exists);"
                        + " largest free extents: " + largestExtents(regions)));
        long raw = rawFor(before, required, regionNamed(regions, chosen.region()));
        long capacity = limit == 0 ? 0
                : CapacityMath.capacityBytes(CapacityMath.usableBytes(before.mode(), raw), limit);
        VolumeNamespaces.Owned owner = naming.owner(old).orElseThrow();
        int generation = (owner.generation() + 1) % VolumeNamespaces.GENERATIONS;
        NamespaceSpec spec = new NamespaceSpec(old.mode(), raw, id,
                naming.uuidFor(id, owner.eraseAfter(), capacity, before.access(), generation),
                NamespaceSpec.DEFAULT_ALIGN, NamespaceSpec.DEFAULT_SECTOR_SIZE);
        NamespaceInfo created = change(() -> backend.create(chosen.region(), spec, this::isLeftover));
        steps.accept(FAULT_MOVE_CREATED);
        Optional<PmemVolume> target = toVolume(created);
        if (target.isEmpty() || target.get().usableBytes() < before.usableBytes() || target.get().usableBytes() < required
                || target.get().usableBytes() < capacity) {
            destroyTarget(created);
            throw new DeviceException("namespace " + created.devname() + " of " + raw + " bytes for volume " + id
                    + " offers " + target.map(PmemVolume::usableBytes).orElse(0L) + " usable bytes, less than the "
                    + before.usableBytes() + " it must take over or the " + required + " required; it was destroyed again");
        }
        try {
            copier.copy(id, before.devicePath(), target.get().devicePath(), before.usableBytes());
        } catch (DeviceException | RuntimeException e) {
            destroyTarget(created);
            throw e;
        }
        steps.accept(FAULT_MOVE_COPIED);
        // From here the new namespace is complete: the old one goes, and once its destroy has
        // begun (disabled, or its info block wiped) a start finishes it rather than undo the move.
        try {
            change(() -> backend.destroy(ns -> ns.devname().equals(old.devname()) && ns.uuid().equals(old.uuid()),
                    oldDataEraser(id, owner.eraseAfter())));
        } catch (DeviceException e) {
            // Refused before it began (the old device was opened or mounted since the copy): the
            // old namespace is still the volume, and may hold newer data than the copy.
            if (currentNamespace(managedRegions(read(backend::regions)), id).map(NamespaceInfo::devname)
                    .filter(old.devname()::equals).isPresent()) {
                destroyTarget(created);
            }
            throw e;
        }
        steps.accept(FAULT_MOVE_DONE);
        PmemVolume after = volumeIn(managedRegions(read(backend::regions)), id).orElseThrow(() ->
                new DeviceException("volume " + id + " moved to " + created.devname() + " but is not found there"));
        log.info("grew volume {} by moving it from {} in {} ({} usable bytes) to {} in {} ({} usable bytes, capacity {})",
                id, old.devname(), old.region(), before.usableBytes(), created.devname(), created.region(),
                after.usableBytes(), after.capacityBytes());
        return withAttributes(after);
    }

    /**
     * What a move does with the old namespace's data: with {@code eraseafter}, the volume's data
     * must not stay on PMEM that another volume gets next, so it is zeroed once the info block is
     * gone (the old namespace no longer serves, the new one is the volume) and before its space is
     * released. This runs under the namespace lock: other creates and deletes wait for it.
     */
    private RawEraser oldDataEraser(String subject, boolean eraseAfter) {
        if (!eraseAfter) {
            return RawEraser.NONE;
        }
        return raw -> {
            try {
                erase(subject, raw);
            } catch (DeviceException e) {
                throw new NdctlException("erase", raw.toString(), Errno.EIO, e.getMessage(), e);
            }
        };
    }

    /** The raw size of {@code v} grown to {@code required} usable bytes in {@code r}: never smaller than it is. */
    private static long rawFor(PmemVolume v, long required, RegionInfo r) {
        return Math.max(v.allocatedBytes(), CapacityMath.rawBytesFor(v.mode(), required, alignment(r)));
    }

    private static RegionInfo regionNamed(List<RegionInfo> regions, String name) {
        return regions.stream().filter(r -> r.devname().equals(name)).findFirst().orElseThrow();
    }

    /** Undoes a move that failed before the copy was complete; a start would, should this fail too. */
    private void destroyTarget(NamespaceInfo created) {
        try {
            backend.destroy(ns -> ns.devname().equals(created.devname()) && ns.uuid().equals(created.uuid()));
        } catch (NdctlException e) {
            log.error("cannot destroy {}, the new namespace of a failed move: {}; the next start destroys it",
                    created.devname(), e.getMessage());
        }
    }

    /** Wiping the signatures of a new volume touches two MiB and is part of its create, so only this is timed on its own. */
    private void erase(String volumeId, Path device) throws DeviceException {
        listener.timed(OperationListener.Kind.ERASE, "volume " + volumeId + " on " + device, () -> {
            eraser.erase(volumeId, device);
            return null;
        });
    }

    @Override
    public Capacity capacity() throws DeviceException {
        List<RegionInfo> regions = managedRegions(read(backend::regions));
        Set<String> targets = moveTargets(regions);
        return new Capacity(regions.stream().map(r -> capacityOf(r, targets)).toList());
    }

    @Override
    public VolumeHealth volumeHealth(String volumeId) throws DeviceException {
        List<RegionInfo> regions = managedRegions(read(backend::regions));
        Optional<NamespaceInfo> current = currentNamespace(regions, volumeId);
        for (RegionInfo r : regions) {
            if (current.isPresent() && r.devname().equals(current.get().region())) {
                return NdctlHealth.of(r, current.get());
            }
        }
        throw new VolumeNotFoundException("volume " + volumeId + " not found");
    }

    @Override
    public DeviceHealth deviceHealth() throws DeviceException {
        List<DeviceHealth.DimmHealth> dimms = read(backend::dimms).stream().map(NdctlHealth::dimmHealth).toList();
        Map<String, Long> bad = new LinkedHashMap<>();
        for (RegionInfo r : managedRegions(read(backend::regions))) {
            bad.put(r.devname(), r.badBlocks().stream().mapToLong(BadBlock::lengthSectors).sum());
        }
        return new DeviceHealth(dimms, bad);
    }

    @Override
    public List<UnmanagedExtent> unmanagedExtents() throws DeviceException {
        List<UnmanagedExtent> result = new ArrayList<>();
        List<RegionInfo> all = read(backend::regions);
        for (RegionInfo r : disabledRegions(all)) {
            result.add(new UnmanagedExtent(r.devname(), r.devname() + " (" + r.bus() + ", " + r.provider() + ")", 0,
                    r.sizeBytes(), "disabled region: " + disabledReason(r)));
        }
        List<RegionInfo> regions = managedRegions(all);
        Set<String> targets = moveTargets(regions);
        for (RegionInfo r : regions) {
            for (NamespaceInfo ns : r.namespaces()) {
                boolean target = targets.contains(ns.devname());
                if (!ns.allocated() || (toVolume(ns).isPresent() && !target)) {
                    continue;
                }
                Optional<VolumeNamespaces.Owned> owner = naming.owner(ns);
                String reason = target ? "new namespace of volume " + owner.get().volumeId() + ", which is growing by"
                        + " moving (destroyed on the next start unless the move finishes)"
                        : pool.isLabelledPool(ns) || pool.isLabellessPool(ns) ? "pool namespace of LVM mode"
                        : !r.labelled() ? "the one namespace of a label-less region, which direct mode cannot divide"
                        : owner.isEmpty() ? "foreign namespace"
                        : !ns.active() ? "unfinished namespace of volume " + owner.get().volumeId() + " (destroyed on the next start or create)"
                        : "namespace of volume " + owner.get().volumeId() + " in unsupported mode " + ns.mode().cliName();
                long offset = ns.resource() >= 0 && ns.resource() >= r.resource() ? ns.resource() - r.resource() : -1;
                String name = ns.altName().isEmpty() ? ns.devname() : ns.devname() + " (" + ns.altName() + ")";
                result.add(new UnmanagedExtent(r.devname(), name, offset, ns.sizeBytes(), reason));
            }
        }
        return result;
    }

    @Override
    public void close() {
        closed = true;
    }

    /**
     * Best fit among the regions of the preferred technology; among the others only when none of
     * those has room.
     */
    private Optional<RegionLayout> choose(List<RegionInfo> regions, List<RegionLayout> layouts,
            ToLongFunction<RegionLayout> rawBytesFor) {
        Map<String, Integer> rank = new LinkedHashMap<>();
        for (RegionInfo r : regions) {
            rank.put(r.devname(), preference.rank(RegionTechnology.of(r)));
        }
        for (int tier = 0; tier <= 1; tier++) {
            int t = tier;
            Optional<RegionLayout> chosen = RegionLayout.chooseRegion(
                    layouts.stream().filter(l -> rank.getOrDefault(l.region(), 1) == t).toList(), rawBytesFor);
            if (chosen.isPresent()) {
                return chosen;
            }
        }
        return Optional.empty();
    }

    // ---- mapping

    private Optional<PmemVolume> toVolume(NamespaceInfo ns) {
        Optional<VolumeNamespaces.Owned> owner = naming.owner(ns);
        if (owner.isEmpty() || !ns.active() || ns.blockDevice().isEmpty()) {
            return Optional.empty();
        }
        VolumeMode mode = switch (ns.mode()) {
            case FSDAX -> VolumeMode.FSDAX;
            case SECTOR -> VolumeMode.SECTOR;
            default -> null;
        };
        if (mode == null) {
            return Optional.empty();
        }
        String id = owner.get().volumeId();
        // Volumes without a limit, and those of the earlier UUID form, have the whole device.
        long capacity = owner.get().capacityBytes() == 0 ? ns.deviceBytes() : owner.get().capacityBytes();
        return Optional.of(withAttributes(new PmemVolume(id, ns.region(), mode, ns.sizeBytes(), ns.deviceBytes(),
                Path.of("/dev", ns.blockDevice()), mode == VolumeMode.FSDAX, owner.get().eraseAfter(), Map.of(),
                capacity, owner.get().access())));
    }

    private PmemVolume withAttributes(PmemVolume v) {
        Map<String, String> attrs = attributes.getOrDefault(v.id(), Map.of());
        return new PmemVolume(v.id(), v.region(), v.mode(), v.allocatedBytes(), v.usableBytes(), v.devicePath(),
                v.daxCapable(), v.eraseAfter(), attrs, v.capacityBytes(), v.access());
    }

    private Optional<PmemVolume> volumeIn(List<RegionInfo> regions, String id) {
        return currentNamespace(regions, id).flatMap(this::toVolume);
    }

    /** The namespace that is volume {@code id}: while it moves, the older of its two namespaces. */
    private Optional<NamespaceInfo> currentNamespace(List<RegionInfo> regions, String id) {
        Set<String> targets = moveTargets(regions);
        for (RegionInfo r : regions) {
            for (NamespaceInfo ns : r.namespaces()) {
                if (naming.isVolume(ns, id) && !targets.contains(ns.devname()) && toVolume(ns).isPresent()) {
                    return Optional.of(ns);
                }
            }
        }
        return Optional.empty();
    }

    /** Every allocated namespace of volume {@code id}, in whatever state. */
    private List<NamespaceInfo> namespacesOf(String id) throws DeviceException {
        List<NamespaceInfo> result = new ArrayList<>();
        for (RegionInfo r : managedRegions(read(backend::regions))) {
            for (NamespaceInfo ns : r.namespaces()) {
                if (naming.isVolume(ns, id)) {
                    result.add(ns);
                }
            }
        }
        return result;
    }

    private Set<String> moveTargets(List<RegionInfo> regions) {
        return moves.targets(regions);
    }

    /**
     * Completes or undoes the moves a crash interrupted: the new namespace of a move whose old
     * namespace still serves is destroyed (the old volume stays, complete), the remains of an old
     * namespace whose destroy had begun are destroyed (the new one is complete). Inactive old
     * namespaces went with the other leftovers before.
     */
    private void finishMoves() throws DeviceException {
        List<RegionInfo> regions = managedRegions(read(backend::regions));
        Set<String> targets = moveTargets(regions);
        Set<String> superseded = moves.supersededOld(regions);
        if (targets.isEmpty() && superseded.isEmpty()) {
            return;
        }
        List<NamespaceInfo> destroyed = new ArrayList<>(change(() -> backend.destroy(ns -> naming.owner(ns).isPresent()
                && targets.contains(ns.devname()))));
        // An old namespace whose destroy was cut short may still hold the volume's data.
        for (String devname : superseded) {
            destroyed.addAll(change(() -> backend.destroy(ns -> ns.devname().equals(devname) && naming.owner(ns).isPresent(),
                    oldDataEraser(devname, regions.stream().flatMap(r -> r.namespaces().stream())
                            .filter(ns -> ns.devname().equals(devname)).findFirst().flatMap(naming::owner)
                            .map(VolumeNamespaces.Owned::eraseAfter).orElse(true)))));
        }
        for (NamespaceInfo ns : destroyed) {
            log.warn("destroyed {} in {}: {}", ns.devname(), ns.region(), targets.contains(ns.devname())
                    ? "the unfinished copy of a move of volume " + ns.altName() + ", which keeps its old namespace"
                    : "the old namespace of volume " + ns.altName() + ", which had moved before the crash");
        }
    }

    /** Allocated, not in service, and ours: what an interrupted create or destroy leaves. */
    private boolean isLeftover(NamespaceInfo ns) {
        return ns.allocated() && !ns.active() && naming.owner(ns).isPresent();
    }

    static long alignment(RegionInfo r) {
        long regionAlign = r.align() > 0 ? r.align() : DEFAULT_REGION_ALIGN;
        return CapacityMath.lcm(CapacityMath.FSDAX_PFN_ALIGN * Math.max(1, r.interleaveWays()), regionAlign);
    }

    /** @param moveTargets the new namespaces of unfinished moves, over all regions: see {@link #layoutOf} */
    private RegionCapacity capacityOf(RegionInfo r, Set<String> moveTargets) {
        return layoutOf(r, moveTargets).capacity().withTechnology(RegionTechnology.of(r));
    }

    /**
     * The region as the kernel reports it: the kernel places a namespace inside it, the driver only
     * picks the region. The new namespace of an unfinished move is not yet a volume's: its space is
     * taken but not used, like a foreign namespace's.
     */
    private RegionLayout layoutOf(RegionInfo r, Set<String> moveTargets) {
        long align = alignment(r);
        long used = r.namespaces().stream().filter(ns -> toVolume(ns).isPresent() && !moveTargets.contains(ns.devname()))
                .mapToLong(NamespaceInfo::sizeBytes).sum();
        return RegionLayout.reported(r.devname(), r.numaNode(), r.sizeBytes(), align,
                CapacityMath.alignDown(r.availableBytes(), align), CapacityMath.alignDown(r.maxExtentBytes(), align), used);
    }

    private static String describe(List<RegionInfo> regions) {
        return String.join(", ", regions.stream().map(r -> r.devname() + " (" + r.bus() + ", " + r.provider() + ")").toList());
    }

    private String largestExtents(List<RegionInfo> regions) {
        StringBuilder sb = new StringBuilder();
        Set<String> targets = moveTargets(regions);
        for (RegionInfo r : regions) {
            sb.append(sb.length() == 0 ? "" : ", ").append(r.devname()).append('=').append(capacityOf(r, targets).maxExtentBytes());
        }
        return sb.length() == 0 ? "none" : sb.toString();
    }

    static List<RegionInfo> managedRegions(List<RegionInfo> regions) {
        return regions.stream().filter(r -> r.isPmem() && r.enabled() && !r.readOnly()).toList();
    }

    /** PMEM regions the kernel shows but has not enabled: whatever volumes they hold cannot be read, or touched. */
    static List<RegionInfo> disabledRegions(List<RegionInfo> regions) {
        return regions.stream().filter(r -> r.isPmem() && !r.enabled()).toList();
    }

    /**
     * What a disabled region means. On Linux 6.1 a CXL PMEM region that holds namespaces does not
     * come back once disabled: neither ndctl enable-region nor re-assembling it after a reboot
     * enables it, though the volumes' data is intact; ndctl init-labels does, by writing empty
     * labels, which loses every trace of the volumes. The driver never does either.
     */
    private static String disabledReason(RegionInfo r) {
        String base = "its namespaces, and any volumes of the driver in them, cannot be read while it is disabled; "
                + "the driver neither enables it nor changes its labels";
        return RegionTechnology.of(r).equals(RegionTechnology.CXL) ? base + "; " + CXL_DISABLED : base;
    }

    /** The CXL part of {@link #disabledReason}, see docs/cxl.md. */
    static final String CXL_DISABLED = "on Linux 6.1 a CXL region with namespaces stays disabled once disabled, and one "
            + "re-assembled after a reboot comes back disabled (\"invalid interleave-set-cookie\"); ndctl init-labels "
            + "would enable it but erase the namespace labels, so that its volumes could no longer be identified "
            + "(docs/cxl.md)";

    static NamespaceMode namespaceMode(VolumeMode mode) {
        return switch (mode) {
            case FSDAX -> NamespaceMode.FSDAX;
            case SECTOR -> NamespaceMode.SECTOR;
        };
    }

    private void destroyQuietly(String id) {
        try {
            backend.destroy(info -> naming.isVolume(info, id));
        } catch (NdctlException e) {
            log.error("cannot destroy the unusable namespace of volume {}: {}", id, e.getMessage());
        }
    }

    // ---- error mapping

    @FunctionalInterface
    private interface NdctlCall<T> {
        T call() throws NdctlException;
    }

    private static <T> T read(NdctlCall<T> call) throws DeviceException {
        try {
            return call.call();
        } catch (NdctlException e) {
            throw new DeviceException(e.getMessage(), e);
        }
    }

    private static <T> T change(NdctlCall<T> call) throws DeviceException {
        try {
            return call.call();
        } catch (NdctlException e) {
            throw translate(e);
        }
    }

    static DeviceException translate(NdctlException e) {
        if (e.is(Errno.ENOSPC)) {
            return new NoSpaceException(e.getMessage(), e);
        }
        if (e.is(Errno.EBUSY) && e.call().equals("ndctl_namespace_disable_safe")) {
            return new VolumeInUseException("the volume's device is mounted or open: " + e.getMessage(), e);
        }
        if (e.is(Errno.EBUSY)) {
            return new DeviceBusyException(e.getMessage(), e);
        }
        if (e.is(Errno.ENODEV)) {
            return new DeviceGoneException(e.getMessage(), e);
        }
        return new DeviceException(e.getMessage(), e);
    }
}
