package dev.pmemcsi.device;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A device manager without devices, for unit tests of the layers above: regions and extents
 * follow the shared arithmetic, device paths are fake. Tests can mark volumes in use, give them
 * bad blocks or make their device vanish.
 */
public final class InMemoryDeviceManager implements DeviceManager {

    private final Map<String, Long> regionSizes = new LinkedHashMap<>();
    private final long alignment;
    private final Map<String, PmemVolume> volumes = new TreeMap<>();
    private final Map<String, Extent> extents = new HashMap<>();
    private final Set<String> inUse = ConcurrentHashMap.newKeySet();
    private final Map<String, Long> badBlocks = new ConcurrentHashMap<>();
    private final Set<String> gone = ConcurrentHashMap.newKeySet();
    private final List<String> erased = new ArrayList<>();
    private final Map<String, RealDevice> deviceOverrides = new ConcurrentHashMap<>();
    private volatile boolean started;
    private volatile OperationListener listener = OperationListener.NONE;
    private volatile Expansion expansion = Expansion.NONE;

    /** Regions {@code region0..N} of the given sizes, 16 MiB allocation unit. */
    public InMemoryDeviceManager(long... regionBytes) {
        this(16 * CapacityMath.MIB, regionBytes);
    }

    public InMemoryDeviceManager(long alignment, long... regionBytes) {
        this.alignment = alignment;
        for (int i = 0; i < regionBytes.length; i++) {
            regionSizes.put("region" + i, regionBytes[i]);
        }
    }

    /** Reports creates and deletes to {@code listener}, as every backend does. */
    public InMemoryDeviceManager reportingTo(OperationListener listener) {
        this.listener = listener;
        return this;
    }

    /** Grows volumes as {@code expansion} says; a new fake offers no expansion, as the interface's default. */
    public InMemoryDeviceManager offering(Expansion expansion) {
        this.expansion = expansion;
        return this;
    }

    @Override
    public String backendName() {
        return "memory";
    }

    @Override
    public void start() {
        started = true;
    }

    @Override
    public boolean isReady() {
        return started;
    }

    @Override
    public synchronized List<PmemVolume> listVolumes() {
        return List.copyOf(volumes.values());
    }

    @Override
    public synchronized Optional<PmemVolume> getVolume(String volumeId) {
        return Optional.ofNullable(volumes.get(volumeId));
    }

    @Override
    public PmemVolume createVolume(VolumeRequest req) throws DeviceException {
        return listener.timed(OperationListener.Kind.CREATE, "volume " + req.volumeId(), () -> create(req));
    }

    private synchronized PmemVolume create(VolumeRequest req) throws DeviceException {
        long required = req.requiredOrDefault();
        PmemVolume existing = volumes.get(req.volumeId());
        if (existing != null) {
            return req.requireSatisfiedBy(existing);
        }
        CapacityMath.checkLimit(req.mode(), req.limitBytes(), alignment);
        long raw = CapacityMath.rawBytesFor(req.mode(), required, alignment);
        long usable = raw == Long.MAX_VALUE ? Long.MAX_VALUE : CapacityMath.usableBytes(req.mode(), raw);
        Optional<RegionLayout> region = raw == Long.MAX_VALUE ? Optional.empty() : RegionLayout.chooseRegion(layouts(), raw);
        if (region.isEmpty()) {
            throw new NoSpaceException("no region has " + raw + " contiguous free bytes");
        }
        Extent extent = region.get().bestFit(raw).orElseThrow();
        RealDevice device = deviceOverrides.get(req.volumeId());
        PmemVolume v = new PmemVolume(req.volumeId(), region.get().region(), req.mode(), raw, usable,
                device != null ? device.path() : Path.of("/dev/fake-" + req.volumeId()),
                device != null ? device.daxCapable() : req.mode() == VolumeMode.FSDAX, req.eraseAfter(),
                req.attributes(), CapacityMath.capacityBytes(usable, req.limitBytes()), req.access());
        volumes.put(v.id(), v);
        extents.put(v.id(), extent);
        return v;
    }

    @Override
    public void deleteVolume(String volumeId, boolean erase) throws DeviceException {
        listener.timed(OperationListener.Kind.DELETE, "volume " + volumeId, () -> {
            delete(volumeId, erase);
            return null;
        });
    }

    private synchronized void delete(String volumeId, boolean erase) throws DeviceException {
        if (!volumes.containsKey(volumeId)) {
            return;
        }
        if (inUse.contains(volumeId)) {
            throw new VolumeInUseException("volume " + volumeId + " is in use");
        }
        if (erase) {
            erased.add(volumeId);
        }
        volumes.remove(volumeId);
        extents.remove(volumeId);
        badBlocks.remove(volumeId);
        gone.remove(volumeId);
    }

    @Override
    public Expansion expansion() {
        return expansion;
    }

    /**
     * As the contract says: in place when the space after the volume's extent is free and the
     * backend is ONLINE, else moved
     * (a new extent by best fit, the device path kept, since the fake has no devices) unless the
     * volume is in use, by the caller's word or the fake's {@link #setInUse}.
     */
    @Override
    public synchronized PmemVolume expandVolume(String volumeId, long requiredBytes, long limitBytes, boolean used)
            throws DeviceException {
        if (expansion == Expansion.NONE) {
            throw new UnsupportedOperationException(backendName() + " volumes cannot grow");
        }
        PmemVolume v = volumes.get(volumeId);
        if (v == null) {
            throw new VolumeNotFoundException("volume " + volumeId + " not found");
        }
        if (limitBytes != 0 && limitBytes < requiredBytes) {
            throw new OutOfRangeException("limit " + limitBytes + " is below the required " + requiredBytes);
        }
        if (v.capacityBytes() >= requiredBytes) {
            return v;
        }
        CapacityMath.checkLimit(v.mode(), limitBytes, alignment);
        long raw = CapacityMath.rawBytesFor(v.mode(), requiredBytes, alignment);
        long largest = regionSizes.values().stream().mapToLong(Long::longValue).max().orElse(0);
        if (raw == Long.MAX_VALUE || raw > CapacityMath.alignDown(largest, alignment)) {
            throw new OutOfRangeException(requiredBytes + " bytes are more than a region of this node holds");
        }
        Extent old = extents.get(volumeId);
        String region = v.region();
        Extent grown;
        // OFFLINE backends (direct mode) always move a volume that grows.
        if (expansion == Expansion.ONLINE && roomAfter(v.region(), old) >= raw) {
            grown = new Extent(old.offset(), raw);
        } else {
            if (used || inUse.contains(volumeId)) {
                throw new VolumeInUseException("volume " + volumeId + " can only grow by moving, and it is in use");
            }
            // Its old extent is free for the new one: layouts() skips a volume without an extent.
            extents.remove(volumeId);
            Optional<RegionLayout> target = RegionLayout.chooseRegion(layouts(), raw);
            if (target.isEmpty()) {
                extents.put(volumeId, old);
                throw new NoSpaceException("no region has " + raw + " contiguous free bytes for volume " + volumeId);
            }
            region = target.get().region();
            grown = target.get().bestFit(raw).orElseThrow();
        }
        long usable = CapacityMath.usableBytes(v.mode(), raw);
        PmemVolume bigger = new PmemVolume(v.id(), region, v.mode(), raw, usable, v.devicePath(), v.daxCapable(),
                v.eraseAfter(), v.attributes(), CapacityMath.capacityBytes(usable, limitBytes), v.access());
        volumes.put(volumeId, bigger);
        extents.put(volumeId, grown);
        return bigger;
    }

    /** Bytes from the start of {@code extent} to the next volume's extent or the region's end. */
    private long roomAfter(String region, Extent extent) {
        long end = CapacityMath.alignDown(regionSizes.get(region), alignment);
        for (PmemVolume other : volumes.values()) {
            Extent e = extents.get(other.id());
            if (other.region().equals(region) && e.offset() > extent.offset()) {
                end = Math.min(end, e.offset());
            }
        }
        return end - extent.offset();
    }

    private List<RegionLayout> layouts() {
        List<RegionLayout> result = new ArrayList<>();
        regionSizes.forEach((name, size) -> {
            List<Extent> used = new ArrayList<>();
            volumes.values().stream().filter(v -> v.region().equals(name) && extents.containsKey(v.id()))
                    .forEach(v -> used.add(extents.get(v.id())));
            result.add(new RegionLayout(name, 0, size, alignment, used, -1));
        });
        return result;
    }

    @Override
    public synchronized Capacity capacity() {
        return new Capacity(layouts().stream().map(RegionLayout::capacity).toList());
    }

    @Override
    public VolumeHealth volumeHealth(String volumeId) throws DeviceException {
        synchronized (this) {
            if (!volumes.containsKey(volumeId)) {
                throw new VolumeNotFoundException("volume " + volumeId + " not found");
            }
        }
        if (gone.contains(volumeId)) {
            return new VolumeHealth(true, "device of volume " + volumeId + " has disappeared", 0);
        }
        long bad = badBlocks.getOrDefault(volumeId, 0L);
        return bad > 0 ? new VolumeHealth(true, bad + " bad blocks", bad) : VolumeHealth.ok();
    }

    @Override
    public DeviceHealth deviceHealth() {
        return new DeviceHealth(List.of(), Map.of());
    }

    @Override
    public List<UnmanagedExtent> unmanagedExtents() {
        return List.of();
    }

    @Override
    public void close() {
        started = false;
    }

    // ---- test controls

    public void setInUse(String volumeId, boolean busy) {
        if (busy) {
            inUse.add(volumeId);
        } else {
            inUse.remove(volumeId);
        }
    }

    /**
     * Backs {@code volumeId} (already created, or created later) with a real block device, e.g. a
     * loop device a host test set up, so that layers above can format and mount it.
     */
    public synchronized void setDevice(String volumeId, Path devicePath, boolean daxCapable) {
        deviceOverrides.put(volumeId, new RealDevice(devicePath, daxCapable));
        PmemVolume v = volumes.get(volumeId);
        if (v != null) {
            volumes.put(volumeId, v.withDevice(devicePath, daxCapable));
        }
    }

    private record RealDevice(Path path, boolean daxCapable) {}

    public void setBadBlocks(String volumeId, long count) {
        badBlocks.put(volumeId, count);
    }

    public void setGone(String volumeId) {
        gone.add(volumeId);
    }

    public synchronized List<String> erasedVolumes() {
        return List.copyOf(erased);
    }
}
