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
import dev.pmemcsi.device.RegionLayout;
import dev.pmemcsi.device.UnmanagedExtent;
import dev.pmemcsi.device.Volume;
import dev.pmemcsi.device.VolumeExistsException;
import dev.pmemcsi.device.VolumeHealth;
import dev.pmemcsi.device.VolumeInUseException;
import dev.pmemcsi.device.VolumeNotFoundException;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.nativeio.BlockDevice;
import dev.pmemcsi.nativeio.Native;
import dev.pmemcsi.nativeio.OpenFlags;
import dev.pmemcsi.nativeio.TrustedPaths;
import dev.pmemcsi.nativeio.NativeException;
import dev.pmemcsi.nativeio.loop.LoopDevice;
import dev.pmemcsi.nativeio.loop.LoopDevices;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import jnr.constants.platform.Errno;
import jnr.posix.FileStat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * PMEM emulated with files and loop devices, for CI, laptops and kind clusters.
 *
 * <p>Each region is a sparse file {@code <dir>/region<N>.img}. A volume is a contiguous extent of
 * one region, placed best fit like a namespace in real PMEM, and exposed as a loop device over
 * that extent. The first bytes of the extent stand in for the mode's on-media metadata (page map
 * or BTT), so device sizes and free space match what real PMEM would show for the same requests.
 *
 * <p>The namespace table ({@code volumes.json}) plays the role of the namespace labels. Every
 * volume is recorded with its state before its loop device is touched, so that {@link #start()}
 * can finish or undo whatever a crash interrupted. A lock file keeps a second driver instance
 * away from the directory.
 *
 * <p>Loop devices cannot map pages directly, so volumes are never DAX-capable.
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

    private static final Logger LOG = LoggerFactory.getLogger(EmulatedDeviceManager.class);
    private static final Duration DETACH_TIMEOUT = Duration.ofSeconds(10);
    private static final int SEEK_DATA = 3;

    /** A region file and how to recognise it behind a loop device. */
    record RegionFile(String name, Path path, long size, long device, long inode, String realPath) {
        boolean backs(LoopDevice loop) {
            return (loop.backingInode() == inode && loop.backingDevice() == device) || loop.backingFile().equals(realPath);
        }
    }

    private final Path dir;
    private final Map<String, Long> regionSizes;
    private final long alignment;
    private final LoopDevices loops;
    private final ExtentEraser eraser = new ExtentEraser();
    private final FaultFiles faults;
    private final TableStore store;
    private final KeyedLocks volumeLocks = new KeyedLocks();
    private final OperationListener listener;

    /** Guards the table and the device map; held only for bookkeeping, never while devices are touched. */
    private final Object tableLock = new Object();
    private final Map<String, VolumeRecord> records = new TreeMap<>();
    private final Map<String, LoopDevice> devices = new HashMap<>();
    /** Volumes start() could not finish because their loop device is in use. */
    private final Set<String> stuck = new HashSet<>();
    private List<UnmanagedExtent> blocked = List.of();
    private volatile Map<String, RegionFile> regionFiles = Map.of();

    private FileChannel lockChannel;
    private FileLock dirLock;
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

    /** @param listener is told about every erase of a deleted volume's extent */
    public EmulatedDeviceManager(Path emulatedDir, List<Long> regionSizes, long alignment, OperationListener listener) {
        this(emulatedDir, regionSizes, alignment, new LoopDevices(), listener);
    }

    EmulatedDeviceManager(Path emulatedDir, List<Long> regionSizes, long alignment, LoopDevices loops) {
        this(emulatedDir, regionSizes, alignment, loops, OperationListener.NONE);
    }

    EmulatedDeviceManager(Path emulatedDir, List<Long> regionSizes, long alignment, LoopDevices loops,
                          OperationListener listener) {
        if (alignment <= 0 || alignment % 4096 != 0) {
            throw new IllegalArgumentException("region alignment must be a positive multiple of 4 KiB: " + alignment);
        }
        if (regionSizes.isEmpty()) {
            throw new IllegalArgumentException("at least one emulated region is needed");
        }
        Map<String, Long> sizes = new LinkedHashMap<>();
        for (int i = 0; i < regionSizes.size(); i++) {
            RegionSizes.checkRegionSize(i, regionSizes.get(i), alignment);
            sizes.put("region" + i, regionSizes.get(i));
        }
        this.dir = emulatedDir.toAbsolutePath();
        this.regionSizes = Collections.unmodifiableMap(sizes);
        this.alignment = alignment;
        this.loops = loops;
        this.listener = listener;
        this.faults = new FaultFiles(dir);
        this.store = new TableStore(dir.resolve(TABLE_FILE));
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

    // ---------------------------------------------------------------- start and recovery

    @Override
    public synchronized void start() throws DeviceException {
        if (ready) {
            return;
        }
        boolean started = false;
        try {
            // Root grows and zeroes the files in here: no one else may plant anything in it.
            TrustedPaths.requirePrivateDir(dir, "emulated dir");
            Files.createDirectories(dir.resolve(FaultFiles.DIR));
            lockDir();
            boolean regionsExisted = anyRegionFileExists();
            Map<String, RegionFile> files = openRegions();
            regionFiles = files;
            String lost = null;
            List<VolumeRecord> table = List.of();
            if (store.exists() || !regionsExisted) {
                try {
                    table = store.load();
                    if (!store.exists()) {
                        // From now on, region files without a table mean the table was lost.
                        store.save(table);
                    }
                } catch (TableStore.UnreadableTableException e) {
                    lost = "unreadable (" + e.getMessage() + ")";
                }
            } else {
                lost = "missing while the region files exist";
            }
            if (lost != null) {
                table = rebuildTable(files, lost);
            } else {
                forgetEraseConsent();
            }
            List<String> problems = Recovery.validate(table, regionSizes);
            if (!problems.isEmpty()) {
                throw new DeviceException("the namespace table " + store.file() + " does not fit the configured regions: "
                        + String.join("; ", problems));
            }
            List<Recovery.ObservedLoop> observed = observe(files, true);
            Recovery.Plan plan = Recovery.plan(table, observed, regionSizes);
            synchronized (tableLock) {
                records.clear();
                devices.clear();
                stuck.clear();
                table.forEach(r -> records.put(r.id(), r));
            }
            recover(plan);
            writeMissingLabels();
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
                unlockDir();
            }
        }
    }

    private void lockDir() throws IOException, DeviceException {
        if (dirLock != null) {
            return;
        }
        Path lockFile = dir.resolve(LOCK_FILE);
        FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = ch.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null;
        }
        if (lock == null) {
            ch.close();
            throw new DeviceBusyException("emulated PMEM directory " + dir + " is in use by another driver instance (" + lockFile + " is locked)");
        }
        lockChannel = ch;
        dirLock = lock;
    }

    private void unlockDir() {
        try {
            if (dirLock != null) {
                dirLock.release();
            }
            if (lockChannel != null) {
                lockChannel.close();
            }
        } catch (IOException e) {
            LOG.warn("cannot release {}: {}", dir.resolve(LOCK_FILE), e.toString());
        }
        dirLock = null;
        lockChannel = null;
    }

    private Map<String, RegionFile> openRegions() throws IOException, DeviceException, NativeException {
        Map<String, RegionFile> files = new LinkedHashMap<>();
        int index = 0;
        for (Map.Entry<String, Long> e : regionSizes.entrySet()) {
            Path file = dir.resolve("region" + index++ + ".img");
            long size = e.getValue();
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
                    throw new DeviceException(file + " is " + actual + " bytes but " + e.getKey() + " is configured with "
                            + size + "; shrinking a region is not supported (restore the size, or delete the file together with "
                            + TABLE_FILE + " to start empty)");
                }
                if (actual < size) {
                    // Sparse: the host pays only for what volumes write.
                    Native.check(Native.posix().ftruncate(fd, size), "ftruncate(" + file + ")");
                    Native.check(Native.libc().fsync(fd), "fsync(" + file + ")");
                    if (exists) {
                        LOG.info("grew {} from {} to {} bytes", file, actual, size);
                    } else {
                        fsyncDir();
                        LOG.info("created {} ({} bytes, sparse)", file, size);
                    }
                }
                files.put(e.getKey(), new RegionFile(e.getKey(), file, size, st.dev(), st.ino(), file.toRealPath().toString()));
            } finally {
                Native.libc().close(fd);
            }
        }
        return Collections.unmodifiableMap(files);
    }

    private boolean anyRegionFileExists() {
        for (int i = 0; i < regionSizes.size(); i++) {
            if (Files.exists(dir.resolve("region" + i + ".img"), LinkOption.NOFOLLOW_LINKS)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The table from the labels at the start of each volume's extent, when {@code volumes.json} is
     * lost or damaged. Region space that no label accounts for must be zero: anything else may be
     * a volume's data (one created before extents were labelled, or whose label was damaged), and
     * handing it out would give that data to a new volume. Such data stops the start unless the
     * operator consented to its erasure with {@link #ERASE_UNACCOUNTED_FILE}.
     */
    private List<VolumeRecord> rebuildTable(Map<String, RegionFile> files, String why)
            throws IOException, DeviceException, NativeException {
        LOG.error("the namespace table {} is {}: rebuilding it from the volume labels in the region files", store.file(), why);
        List<VolumeRecord> found = new ArrayList<>();
        List<UnmanagedExtent> unaccounted = new ArrayList<>();
        for (RegionFile f : files.values()) {
            int fd = Native.check(Native.libc().open(f.path().toString(), OpenFlags.O_RDONLY | OpenFlags.O_NOFOLLOW
                    | OpenFlags.O_CLOEXEC, 0), "open(" + f.path() + ")");
            try (FileChannel ch = FileChannel.open(f.path(), StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
                long pos = 0;
                long dataStart = -1;
                while (pos < f.size()) {
                    // Holes hold neither labels nor data: reading them would only cost time.
                    long next = nextData(fd, pos);
                    if (next >= pos + alignment) {
                        if (dataStart >= 0) {
                            unaccounted.add(new UnmanagedExtent(f.name(), f.path().toString(), dataStart, pos - dataStart,
                                    "data no volume label accounts for"));
                            dataStart = -1;
                        }
                        pos = Math.min(f.size(), next - next % alignment);
                        continue;
                    }
                    Optional<VolumeRecord> label = ExtentLabel.read(ch, f.name(), pos, f.size(), alignment);
                    boolean zero = label.isEmpty() && isZero(ch, pos, alignment);
                    if ((label.isPresent() || zero) && dataStart >= 0) {
                        unaccounted.add(new UnmanagedExtent(f.name(), f.path().toString(), dataStart, pos - dataStart,
                                "data no volume label accounts for"));
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
                    unaccounted.add(new UnmanagedExtent(f.name(), f.path().toString(), dataStart, f.size() - dataStart,
                            "data no volume label accounts for"));
                }
            } finally {
                Native.libc().close(fd);
            }
        }
        Path consent = dir.resolve(ERASE_UNACCOUNTED_FILE);
        if (!unaccounted.isEmpty()) {
            String where = String.join(", ", unaccounted.stream()
                    .map(u -> u.region() + " bytes " + u.offsetBytes() + "+" + u.sizeBytes()).toList());
            List<String> busy = observe(files, true).stream().filter(Recovery.ObservedLoop::busy)
                    .filter(o -> unaccounted.stream().anyMatch(u -> u.region().equals(o.region())
                            && o.loop().offset() < u.offsetBytes() + u.sizeBytes()
                            && (o.loop().sizeLimit() == 0 || u.offsetBytes() < o.loop().offset() + o.loop().sizeLimit())))
                    .map(o -> o.loop().device().toString()).toList();
            if (!Files.exists(consent, LinkOption.NOFOLLOW_LINKS) || !busy.isEmpty()) {
                throw new DeviceException("the namespace table " + store.file() + " is " + why + ", and the regions hold data"
                        + " that no volume label accounts for (" + where + "); starting would hand it out with new volumes."
                        + (busy.isEmpty() ? "" : " It is in use through " + busy + "; stop whatever uses it first.")
                        + " Stop the driver and restore " + TABLE_FILE + " from a backup, or, if that data may be destroyed,"
                        + " create " + consent + " and start again (docs/reliability.md, \"Lost volume table\")");
            }
            for (UnmanagedExtent u : unaccounted) {
                LOG.warn("erasing {} bytes at {} of {}: data no volume label accounts for, erased as {} asks",
                        u.sizeBytes(), u.offsetBytes(), u.region(), consent);
                eraser.erase(files.get(u.region()).path(), u.offsetBytes(), u.sizeBytes(), "unaccounted data in " + u.region());
            }
        }
        List<String> problems = Recovery.validate(found, regionSizes);
        if (!problems.isEmpty()) {
            throw new DeviceException("the volume labels in the region files contradict each other: " + String.join("; ", problems)
                    + "; restore " + TABLE_FILE + " from a backup");
        }
        if (store.exists()) {
            Path kept = store.file().resolveSibling(TABLE_FILE + ".unreadable-" + System.currentTimeMillis());
            Files.move(store.file(), kept);
            LOG.warn("kept the unreadable table as {}", kept);
        }
        store.save(found);
        forgetEraseConsent();
        LOG.warn("rebuilt the namespace table {} with {} volumes from their labels: {}", store.file(), found.size(),
                found.stream().map(VolumeRecord::id).toList());
        return found;
    }

    /** The consent applies to the start it was given for, never to a later loss of the table. */
    private void forgetEraseConsent() throws IOException {
        if (Files.deleteIfExists(dir.resolve(ERASE_UNACCOUNTED_FILE))) {
            LOG.info("removed {}", dir.resolve(ERASE_UNACCOUNTED_FILE));
        }
    }

    /**
     * Where the next data at or after {@code offset} starts ({@link Long#MAX_VALUE} when only a hole
     * follows), or {@code offset} itself when the filesystem cannot tell.
     */
    private static long nextData(int fd, long offset) {
        long next = Native.libc().lseek(fd, offset, SEEK_DATA);
        if (next >= 0) {
            return next;
        }
        return Native.errno() == Errno.ENXIO.intValue() ? Long.MAX_VALUE : offset;
    }

    private static boolean isZero(FileChannel ch, long offset, long length) throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect((int) Math.min(length, 1 << 20));
        for (long pos = offset; pos < offset + length; ) {
            buf.clear().limit((int) Math.min(buf.capacity(), offset + length - pos));
            int n = ch.read(buf, pos);
            if (n <= 0) {
                return true; // beyond the end of the file: reads as zeros
            }
            buf.flip();
            while (buf.remaining() >= 8) {
                if (buf.getLong() != 0) {
                    return false;
                }
            }
            while (buf.hasRemaining()) {
                if (buf.get() != 0) {
                    return false;
                }
            }
            pos += n;
        }
        return true;
    }

    /** Volumes recorded by a driver that did not label extents get their labels now. */
    private void writeMissingLabels() throws DeviceException {
        List<VolumeRecord> readyRows;
        synchronized (tableLock) {
            readyRows = records.values().stream().filter(r -> r.state() == VolumeState.READY).toList();
        }
        for (VolumeRecord r : readyRows) {
            RegionFile f = regionFiles.get(r.region());
            try {
                if (!ExtentLabel.read(f.path(), r, f.size(), alignment).equals(Optional.of(r))) {
                    ExtentLabel.write(f.path(), r);
                    LOG.info("wrote the label of volume {} at {} of {}", r.id(), r.offset(), r.region());
                }
            } catch (IOException e) {
                throw new DeviceException("cannot write the label of volume " + r.id() + " into " + f.path() + ": " + e, e);
            }
        }
    }

    private void clearLabel(VolumeRecord r) throws DeviceException {
        try {
            ExtentLabel.clear(regionFiles.get(r.region()).path(), r);
        } catch (IOException e) {
            throw new DeviceException("cannot clear the label of volume " + r.id() + ": " + e, e);
        }
    }

    private void fsyncDir() throws IOException {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
    }

    /** Bound loop devices over the region files; {@code checkBusy} opens each one exclusively for a moment. */
    private List<Recovery.ObservedLoop> observe(Map<String, RegionFile> files, boolean checkBusy) throws NativeException {
        List<Recovery.ObservedLoop> result = new ArrayList<>();
        for (LoopDevice l : loops.list()) {
            for (RegionFile f : files.values()) {
                if (f.backs(l)) {
                    boolean busy = false;
                    if (checkBusy) {
                        try {
                            busy = BlockDevice.isBusy(l.device());
                        } catch (NativeException e) {
                            if (e.is(Errno.ENOENT) || e.is(Errno.ENXIO)) {
                                continue; // detached meanwhile
                            }
                            throw e;
                        }
                    }
                    result.add(new Recovery.ObservedLoop(l, f.name(), busy));
                    break;
                }
            }
        }
        return result;
    }

    private void recover(Recovery.Plan plan) throws DeviceException {
        List<UnmanagedExtent> unmanaged = new ArrayList<>(plan.unmanaged());
        Set<String> blockedIds = new HashSet<>(plan.stuck().keySet());
        for (Recovery.Detach d : plan.detach()) {
            LOG.info("detaching {} ({})", d.loop().device(), d.reason());
            String failure;
            try {
                failure = loops.detach(d.loop(), DETACH_TIMEOUT) ? null : "still open by another process";
            } catch (NativeException e) {
                failure = e.getMessage();
            }
            if (failure != null) {
                LOG.warn("cannot detach {}: {}", d.loop().device(), failure);
                unmanaged.add(new UnmanagedExtent(regionOf(d.loop()), d.loop().device().toString(), d.loop().offset(),
                        d.loop().sizeLimit(), d.reason() + ", but it cannot be detached: " + failure));
                if (d.volumeId() != null) {
                    blockedIds.add(d.volumeId());
                    synchronized (tableLock) {
                        devices.put(d.volumeId(), d.loop());
                    }
                }
            }
        }
        synchronized (tableLock) {
            plan.stuck().forEach(devices::put);
            stuck.addAll(blockedIds);
            blocked = List.copyOf(unmanaged);
        }
        for (VolumeRecord r : plan.rollBack()) {
            if (!blockedIds.contains(r.id())) {
                LOG.info("rolling back the interrupted creation of volume {}", r.id());
                clearLabel(r);
                synchronized (tableLock) {
                    removeRecord(r.id());
                }
            }
        }
        for (VolumeRecord r : plan.finishDelete()) {
            if (!blockedIds.contains(r.id())) {
                LOG.info("finishing the interrupted deletion of volume {}", r.id());
                releaseExtent(r);
                synchronized (tableLock) {
                    removeRecord(r.id());
                }
                faults.clear(r.id());
            }
        }
        plan.reuse().forEach((id, loop) -> {
            LOG.info("volume {} keeps {}", id, loop.device());
            synchronized (tableLock) {
                devices.put(id, loop);
            }
        });
        for (VolumeRecord r : plan.attach()) {
            try {
                LoopDevice loop = attach(r);
                LOG.info("volume {} reattached as {}", r.id(), loop.device());
                synchronized (tableLock) {
                    devices.put(r.id(), loop);
                }
            } catch (NativeException e) {
                throw new DeviceException("cannot reattach volume " + r.id() + ": " + e.getMessage(), e);
            }
        }
    }

    private String regionOf(LoopDevice loop) {
        return regionFiles.values().stream().filter(f -> f.backs(loop)).map(RegionFile::name).findFirst().orElse("");
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
    public List<Volume> listVolumes() throws DeviceException {
        requireReady();
        synchronized (tableLock) {
            List<Volume> result = new ArrayList<>();
            for (VolumeRecord r : records.values()) {
                if (r.state() == VolumeState.READY && devices.containsKey(r.id())) {
                    result.add(toVolume(r, devices.get(r.id())));
                }
            }
            return result;
        }
    }

    @Override
    public Optional<Volume> getVolume(String volumeId) throws DeviceException {
        requireReady();
        synchronized (tableLock) {
            VolumeRecord r = records.get(volumeId);
            LoopDevice loop = devices.get(volumeId);
            return r != null && r.state() == VolumeState.READY && loop != null ? Optional.of(toVolume(r, loop)) : Optional.empty();
        }
    }

    private static Volume toVolume(VolumeRecord r, LoopDevice loop) {
        return new Volume(r.id(), r.region(), r.mode(), r.rawBytes(), r.usableBytes(), loop.device(), false,
                r.eraseAfter(), r.attributes(), r.capacity(), r.volumeAccess());
    }

    @Override
    public Volume createVolume(VolumeRequest req) throws DeviceException {
        return listener.timed(OperationListener.Kind.CREATE, "volume " + req.volumeId(), () -> create(req));
    }

    private Volume create(VolumeRequest req) throws DeviceException {
        requireReady();
        String id = req.volumeId();
        long required = req.requiredOrDefault();
        try (KeyedLocks.Held held = volumeLocks.lock(id); MDC.MDCCloseable mdc = MDC.putCloseable("volume", id)) {
            VolumeRecord rec;
            boolean deleting;
            synchronized (tableLock) {
                deleting = records.containsKey(id) && records.get(id).state() == VolumeState.DELETING;
            }
            if (deleting) {
                // A delete of this ID gave up half way; it finishes, with the erase it recorded,
                // before the ID names a new volume.
                delete(id, false);
            }
            synchronized (tableLock) {
                VolumeRecord existing = records.get(id);
                if (existing != null) {
                    return existing(existing, req);
                }
                CapacityMath.checkLimit(req.mode(), req.limitBytes(), alignment);
                long raw = CapacityMath.rawBytesFor(req.mode(), required, alignment);
                long usable = raw == Long.MAX_VALUE ? Long.MAX_VALUE : CapacityMath.usableBytes(req.mode(), raw);
                RegionSpace space = new RegionSpace(regionSizes, alignment, records.values(), blocked);
                Optional<RegionLayout> region = raw == Long.MAX_VALUE ? Optional.empty() : RegionLayout.chooseRegion(space.layouts(), raw);
                if (region.isEmpty()) {
                    throw new NoSpaceException("no emulated region has " + raw + " contiguous free bytes for a "
                            + req.mode() + " volume of " + required + " bytes (largest free extent: "
                            + space.layouts().stream().mapToLong(RegionLayout::maxExtentBytes).max().orElse(0) + ")");
                }
                Extent extent = region.get().bestFit(raw).orElseThrow();
                rec = new VolumeRecord(id, region.get().region(), extent.offset(), raw, usable, req.mode(), req.eraseAfter(),
                        req.attributes(), VolumeState.CREATING, false, CapacityMath.capacityBytes(usable, req.limitBytes()),
                        req.access().token());
                putRecord(rec);
            }
            FaultPoints.reached(FAULT_CREATE_RECORDED);
            try {
                ExtentLabel.write(regionFiles.get(rec.region()).path(), rec);
            } catch (IOException e) {
                rollBack(rec, null);
                throw new DeviceException("cannot write the label of volume " + id + ": " + e, e);
            }
            LoopDevice loop;
            try {
                loop = attach(rec);
            } catch (NativeException | RuntimeException e) {
                rollBack(rec, null);
                throw new DeviceException("cannot attach a loop device for volume " + id + ": " + e.getMessage(), e);
            }
            FaultPoints.reached(FAULT_CREATE_ATTACHED);
            VolumeRecord readyRec = rec.withState(VolumeState.READY);
            try {
                synchronized (tableLock) {
                    putRecord(readyRec);
                    devices.put(id, loop);
                }
            } catch (DeviceException e) {
                rollBack(rec, loop);
                throw e;
            }
            LOG.info("created {} volume {}: capacity {}, {} usable bytes at {}+{} of {}, {}", rec.mode(), id, rec.capacity(),
                    rec.usableBytes(),
                    rec.offset(), rec.rawBytes(), rec.region(), loop.device());
            return toVolume(readyRec, loop);
        }
    }

    /** The idempotent answer for an ID that exists. Called under the table lock. */
    private Volume existing(VolumeRecord existing, VolumeRequest req) throws DeviceException {
        if (existing.state() != VolumeState.READY || !devices.containsKey(existing.id())) {
            throw new DeviceBusyException("volume " + existing.id() + " is " + existing.state().name().toLowerCase()
                    + "; retry once that has finished (a pending deletion finishes with a retried DeleteVolume)");
        }
        return req.requireSatisfiedBy(toVolume(existing, devices.get(existing.id())));
    }

    /**
     * Undoes a creation that failed in this process: the extent never held data, so it needs no
     * erase, only its label goes, so that no rebuild of the table brings the volume back.
     */
    private void rollBack(VolumeRecord rec, LoopDevice loop) {
        if (loop != null) {
            try {
                loops.detach(loop, DETACH_TIMEOUT);
            } catch (NativeException e) {
                LOG.warn("cannot detach {} of the failed volume {}: {}; start() will", loop.device(), rec.id(), e.getMessage());
                return;
            }
        }
        try {
            clearLabel(rec);
        } catch (DeviceException e) {
            LOG.warn("{}; start() will", e.getMessage());
            return;
        }
        synchronized (tableLock) {
            try {
                devices.remove(rec.id());
                removeRecord(rec.id());
            } catch (DeviceException e) {
                LOG.warn("cannot roll back volume {} in the table: {}; start() will", rec.id(), e.getMessage());
            }
        }
    }

    private LoopDevice attach(VolumeRecord r) throws NativeException {
        RegionFile f = regionFiles.get(r.region());
        return loops.attach(f.path(), r.deviceOffset(), r.usableBytes(), Recovery.label(r.id()));
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
        synchronized (tableLock) {
            rec = records.get(volumeId);
            loop = devices.get(volumeId);
        }
        if (rec == null) {
            return;
        }
        BlockDevice claimed = null;
        if (loop != null && stillOurs(loop, rec)) {
            try {
                // Held exclusively from here on, nobody can mount the device while it goes away.
                claimed = BlockDevice.open(loop.device(), true);
            } catch (NativeException e) {
                if (e.is(Errno.EBUSY)) {
                    throw new VolumeInUseException("volume " + volumeId + ": " + loop.device() + " is mounted or open exclusively");
                }
                if (!e.is(Errno.ENOENT) && !e.is(Errno.ENXIO)) {
                    throw new DeviceException("volume " + volumeId + ": " + e.getMessage(), e);
                }
            }
        }
        VolumeRecord deleting = rec.deleting(erase || rec.eraseAfter());
        try {
            synchronized (tableLock) {
                putRecord(deleting);
            }
            FaultPoints.reached(FAULT_DELETE_RECORDED);
            if (claimed != null) {
                loops.clearFd(claimed);
            }
        } catch (NativeException e) {
            throw new DeviceException("volume " + volumeId + ": " + e.getMessage(), e);
        } finally {
            if (claimed != null) {
                claimed.close();
            }
        }
        if (claimed != null && !loops.awaitDetached(loop.number(), DETACH_TIMEOUT)) {
            throw new DeviceBusyException("volume " + volumeId + ": " + loop.device() + " is still open by another process; "
                    + "the kernel detaches it on that process's last close, and a retried delete finishes then");
        }
        synchronized (tableLock) {
            devices.remove(volumeId);
        }
        FaultPoints.reached(FAULT_DELETE_DETACHED);
        releaseExtent(deleting);
        FaultPoints.reached(FAULT_DELETE_ERASED);
        synchronized (tableLock) {
            removeRecord(volumeId);
        }
        faults.clear(volumeId);
        LOG.info("deleted volume {} ({}+{} of {} is free)", volumeId, rec.offset(), rec.rawBytes(), rec.region());
    }

    /** Whether loop N still shows this volume, and not a device someone else bound under that number. */
    private boolean stillOurs(LoopDevice loop, VolumeRecord rec) throws DeviceException {
        try {
            return loops.get(loop.number())
                    .filter(now -> now.maps(rec.deviceOffset(), rec.usableBytes()) && now.fileName().equals(Recovery.label(rec.id())))
                    .isPresent();
        } catch (NativeException e) {
            throw new DeviceException("volume " + rec.id() + ": " + e.getMessage(), e);
        }
    }

    private void releaseExtent(VolumeRecord r) throws DeviceException {
        Path file = regionFiles.get(r.region()).path();
        OperationListener.Running erase = listener.started(OperationListener.Kind.ERASE,
                "volume " + r.id() + " (" + r.rawBytes() + " bytes of " + r.region() + ")");
        try {
            eraser.erase(file, r.offset(), r.rawBytes(), "volume " + r.id());
            erase.finished(null);
        } catch (NativeException e) {
            erase.finished(e);
            if (r.eraseOnDelete()) {
                throw new DeviceException("cannot erase volume " + r.id() + ": " + e.getMessage()
                        + "; its space stays reserved until a retried delete succeeds", e);
            }
            LOG.warn("could not zero the extent of volume {} (erase was not requested): {}", r.id(), e.getMessage());
            // A label left behind would bring the volume back if the table were ever rebuilt.
            clearLabel(r);
        } catch (RuntimeException e) {
            erase.finished(e);
            throw e;
        }
    }

    /** Called under the table lock: the row is durable before the in-memory table changes. */
    private void putRecord(VolumeRecord r) throws DeviceException {
        Map<String, VolumeRecord> next = new TreeMap<>(records);
        next.put(r.id(), r);
        save(next);
        records.put(r.id(), r);
    }

    private void removeRecord(String id) throws DeviceException {
        if (!records.containsKey(id)) {
            return;
        }
        Map<String, VolumeRecord> next = new TreeMap<>(records);
        next.remove(id);
        save(next);
        records.remove(id);
        stuck.remove(id);
    }

    private void save(Map<String, VolumeRecord> next) throws DeviceException {
        try {
            store.save(List.copyOf(next.values()));
        } catch (IOException e) {
            throw new DeviceException("cannot write the namespace table " + store.file() + ": " + e, e);
        }
    }

    // ---------------------------------------------------------------- capacity and health

    @Override
    public Capacity capacity() throws DeviceException {
        requireReady();
        synchronized (tableLock) {
            return new Capacity(new RegionSpace(regionSizes, alignment, records.values(), blocked).capacity());
        }
    }

    @Override
    public VolumeHealth volumeHealth(String volumeId) throws DeviceException {
        requireReady();
        VolumeRecord r;
        LoopDevice loop;
        synchronized (tableLock) {
            r = records.get(volumeId);
            loop = devices.get(volumeId);
        }
        if (r == null || r.state() != VolumeState.READY || loop == null) {
            throw new VolumeNotFoundException("volume " + volumeId + " not found");
        }
        if (faults.gone(volumeId)) {
            return new VolumeHealth(true, "device " + loop.device() + " of volume " + volumeId + " has disappeared (test fault "
                    + faults.goneFile(volumeId) + ")", 0);
        }
        if (!stillOurs(loop, r)) {
            return new VolumeHealth(true, "loop device " + loop.device() + " no longer shows volume " + volumeId + " in "
                    + regionFiles.get(r.region()).path().getFileName() + "; restarting the driver reattaches it", 0);
        }
        long bad = faults.badBlocks(volumeId);
        if (bad < 0) {
            return new VolumeHealth(true, "unreadable test fault file " + faults.badBlocksFile(volumeId), 0);
        }
        if (bad > 0) {
            return new VolumeHealth(true, bad + " bad blocks in volume " + volumeId + " (test fault "
                    + faults.badBlocksFile(volumeId) + ")", bad);
        }
        return VolumeHealth.ok();
    }

    @Override
    public DeviceHealth deviceHealth() throws DeviceException {
        requireReady();
        List<VolumeRecord> snapshot;
        synchronized (tableLock) {
            snapshot = List.copyOf(records.values());
        }
        Map<String, Long> bad = new LinkedHashMap<>();
        regionSizes.keySet().forEach(region -> bad.put(region, 0L));
        for (VolumeRecord r : snapshot) {
            bad.merge(r.region(), Math.max(0, faults.badBlocks(r.id())), Long::sum);
        }
        return new DeviceHealth(List.of(), bad);
    }

    /**
     * Loop devices over the region files that no volume accounts for, found now, plus volumes
     * start() had to leave half-created or half-deleted because their device was in use. Space
     * they cover is not handed out.
     */
    @Override
    public List<UnmanagedExtent> unmanagedExtents() throws DeviceException {
        requireReady();
        List<VolumeRecord> before;
        synchronized (tableLock) {
            before = List.copyOf(records.values());
        }
        List<Recovery.ObservedLoop> observed;
        try {
            observed = observe(regionFiles, false);
        } catch (NativeException e) {
            throw new DeviceException("cannot list loop devices: " + e.getMessage(), e);
        }
        synchronized (tableLock) {
            // A row may appear (create) or vanish (delete) while the devices are listed: a device
            // is accounted for if either snapshot explains it.
            List<VolumeRecord> both = new ArrayList<>(before);
            both.addAll(records.values());
            List<UnmanagedExtent> found = new ArrayList<>(Recovery.unaccounted(both, observed, regionSizes));
            for (String id : stuck) {
                VolumeRecord r = records.get(id);
                if (r != null) {
                    found.add(new UnmanagedExtent(r.region(), "volume " + id, r.offset(), r.rawBytes(),
                            "volume is " + r.state().name().toLowerCase() + " but its loop device is in use"));
                }
            }
            blocked = List.copyOf(found);
            return found;
        }
    }

    /** Releases the directory lock. Loop devices stay: volumes outlive the driver process. */
    @Override
    public synchronized void close() {
        ready = false;
        unlockDir();
    }
}
