package dev.pmemcsi.device.ndctl;

import dev.pmemcsi.device.BlockDeviceEraser;
import dev.pmemcsi.device.VolumeEraser;
import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.PoolDevice;
import dev.pmemcsi.device.PoolDevices;
import dev.pmemcsi.ndctl.NamespaceInfo;
import dev.pmemcsi.ndctl.NamespaceMode;
import dev.pmemcsi.ndctl.NamespaceSpec;
import dev.pmemcsi.ndctl.NdctlException;
import dev.pmemcsi.ndctl.RawContentCheck;
import dev.pmemcsi.ndctl.RegionInfo;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * LVM mode's pool devices on a PMEM node: one fsdax namespace per region, found or made through
 * libndctl.
 *
 * <ul>
 *   <li><b>Labelled region</b>: the pool namespace is named {@code <driver name>-lvm} and carries
 *       this driver's mark in its UUID ({@link PoolNamespaces}). If there is none, one is created
 *       with {@code percentage} percent of the region, aligned down to the region's allocation unit.
 *       An existing one is used at the size it has.</li>
 *   <li><b>Label-less region</b> (e820, NVDIMMs without a label area): the region holds one
 *       namespace over all of it and cannot be divided, so the percentage does not apply: that
 *       namespace is reconfigured to fsdax in place, whole, with a pfn device that carries the
 *       mark. Only if it holds no data ({@link RawNamespaceContent}); an e820 namespace, which the
 *       kernel shows as fsdax without any pfn device, counts as raw.</li>
 *   <li>A region with namespaces of anyone else, or with direct-mode volumes, is skipped and
 *       never changed; so are disabled and read-only regions.</li>
 * </ul>
 *
 * <p>Crash safety: every change is followed by a fresh look at the region, and the next step is
 * chosen from what the kernel shows. A pool namespace that is not active is first enabled as it
 * is, never destroyed: it may be a namespace an administrator disabled, with the volume group on
 * it, which the kernel brings back from its info block. One that comes back raw was interrupted
 * before its pfn device was enabled; it is then completed in place, after the same content check.
 * A label-less namespace interrupted halfway comes back raw and empty, and is reconfigured again.
 */
public final class NdctlPoolDevices implements PoolDevices {

    private static final Logger log = LoggerFactory.getLogger(NdctlPoolDevices.class);

    /** Changes to one region in one preparation: enable, then complete or create, then look. */
    private static final int MAX_CHANGES = 3;
    /** The kernel's smallest fsdax namespace. */
    private static final long MIN_POOL_BYTES = 16 * CapacityMath.MIB;

    private final PoolNamespaceBackend backend;
    private final PoolNamespaces pool;
    private final VolumeNamespaces volumes;
    private final int percentage;
    private final RawContentCheck content;
    private final VolumeEraser eraser;

    /** The production wiring: libndctl, and blkid for the content check. */
    public NdctlPoolDevices(String driverName, int percentage) {
        this(driverName, new LibNdctlBackend(), percentage);
    }

    /**
     * @param percentage of each labelled region to give to the pool, 1 to 100; label-less regions
     *                   are always used whole
     */
    public NdctlPoolDevices(String driverName, PoolNamespaceBackend backend, int percentage) {
        this(driverName, backend, percentage, new RawNamespaceContent(),
                new BlockDeviceEraser(BlockDeviceEraser.Method.ZEROOUT));
    }

    NdctlPoolDevices(String driverName, PoolNamespaceBackend backend, int percentage, RawContentCheck content,
            VolumeEraser eraser) {
        if (percentage < 1 || percentage > 100) {
            throw new IllegalArgumentException("the PMEM percentage must be between 1 and 100, not " + percentage);
        }
        this.backend = backend;
        this.pool = new PoolNamespaces(driverName);
        this.volumes = new VolumeNamespaces(driverName);
        this.percentage = percentage;
        this.content = content;
        this.eraser = eraser;
    }

    /** The name of the pool namespace in a labelled region. */
    public String namespaceName() {
        return pool.name();
    }

    @Override
    public String describe() {
        return "ndctl regions (fsdax namespace " + pool.name() + " with " + percentage
                + "% of each labelled region; label-less regions whole)";
    }

    @Override
    public synchronized Preparation prepare() throws DeviceException {
        try {
            backend.load();
        } catch (NdctlException e) {
            throw new DeviceException("LVM mode on PMEM needs libndctl: " + e.getMessage(), e);
        }
        if (read(backend::buses).isEmpty()) {
            throw new DeviceException("no NVDIMM bus: load the nfit and nd_pmem modules (modprobe nfit nd_pmem; "
                    + "nd_e820 for PMEM reserved with memmap=), and check that the platform exposes PMEM");
        }
        List<PoolDevice> devices = new ArrayList<>();
        List<SkippedRegion> skipped = new ArrayList<>();
        for (RegionInfo r : read(backend::regions)) {
            Step outcome = prepare(r);
            if (outcome instanceof Use use) {
                devices.add(use.device());
                log.info("pool device of {} ({}): {}, {} usable bytes, {}", r.devname(), r.bus(),
                        use.device().devicePath(), use.device().sizeBytes(), use.device().technology());
            } else if (outcome instanceof Skip skip) {
                skipped.add(new SkippedRegion(r.devname(), r.bus(), skip.reason()));
                log.warn("region {} ({}) is not used by LVM mode: {}", r.devname(), r.bus(), skip.reason());
            }
        }
        return new Preparation(devices, skipped);
    }

    // ---- what to do with a region: decided from a snapshot alone

    /** The next step for a region. */
    sealed interface Step permits Use, Skip, Enable, Reconfigure, Create {}

    record Use(PoolDevice device) implements Step {}

    record Skip(String reason) implements Step {}

    /** Bring an inactive namespace back as it is. */
    record Enable(NamespaceInfo namespace) implements Step {}

    /** Make an empty raw namespace fsdax in place. */
    record Reconfigure(NamespaceInfo namespace) implements Step {}

    record Create(NamespaceSpec spec) implements Step {}

    Step plan(RegionInfo r) {
        if (!r.isPmem()) {
            return new Skip("not a PMEM region (type " + r.type() + ")");
        }
        if (!r.enabled()) {
            return new Skip("the region is disabled (ndctl enable-region " + r.devname() + ")");
        }
        if (r.readOnly()) {
            return new Skip("the region is read-only");
        }
        List<NamespaceInfo> allocated = r.namespaces().stream().filter(NamespaceInfo::allocated).toList();
        return r.labelled() ? planLabelled(r, allocated) : planLabelless(r, allocated);
    }

    private Step planLabelled(RegionInfo r, List<NamespaceInfo> allocated) {
        List<NamespaceInfo> ofVolumes = allocated.stream().filter(ns -> volumes.owner(ns).isPresent()).toList();
        if (!ofVolumes.isEmpty()) {
            return new Skip("it holds direct-mode volumes (" + list(ofVolumes)
                    + "); LVM mode does not share a region with them");
        }
        List<NamespaceInfo> pools = allocated.stream().filter(pool::isLabelledPool).toList();
        List<NamespaceInfo> foreign = allocated.stream().filter(ns -> !pool.isLabelledPool(ns)).toList();
        if (!foreign.isEmpty()) {
            return new Skip("it holds namespaces that are not this driver's (" + list(foreign)
                    + "); they are never changed");
        }
        if (pools.size() > 1) {
            return new Skip("it holds " + pools.size() + " pool namespaces (" + list(pools)
                    + ") where one is expected; none is used or changed");
        }
        if (pools.size() == 1) {
            NamespaceInfo ns = pools.get(0);
            if (!ns.active()) {
                return new Enable(ns);
            }
            if (isFsdaxDevice(ns)) {
                return new Use(device(r, ns));
            }
            if (ns.mode() == NamespaceMode.RAW && !ns.blockDevice().isEmpty()) {
                // Its pfn device was never enabled: a create was interrupted.
                return new Reconfigure(ns);
            }
            return new Skip("its pool namespace " + ns.devname() + " is " + ns.mode().cliName()
                    + ", not fsdax; it is not changed");
        }
        long align = NdctlDeviceManager.alignment(r);
        long bytes = CapacityMath.alignDown(Math.multiplyExact(r.sizeBytes(), (long) percentage) / 100, align);
        long minimum = CapacityMath.roundUp(MIN_POOL_BYTES, align);
        if (bytes < minimum) {
            return new Skip(percentage + "% of its " + r.sizeBytes() + " bytes, aligned down to " + align
                    + " bytes, is less than the smallest fsdax namespace of " + minimum + " bytes");
        }
        if (bytes > r.maxExtentBytes()) {
            return new Skip("its largest free extent of " + r.maxExtentBytes() + " bytes is smaller than the "
                    + bytes + " bytes (" + percentage + "%) the pool namespace needs");
        }
        return new Create(new NamespaceSpec(NamespaceMode.FSDAX, bytes, pool.name(), pool.newUuid(),
                NamespaceSpec.DEFAULT_ALIGN, NamespaceSpec.DEFAULT_SECTOR_SIZE));
    }

    private Step planLabelless(RegionInfo r, List<NamespaceInfo> allocated) {
        if (allocated.size() != 1) {
            return new Skip("a label-less region with " + allocated.size() + " namespaces (" + list(allocated)
                    + ") where one is expected");
        }
        NamespaceInfo ns = allocated.get(0);
        if (!ns.active()) {
            return new Enable(ns);
        }
        if (ns.claimedByPfn()) {
            if (pool.isLabellessPool(ns) && isFsdaxDevice(ns)) {
                return new Use(device(r, ns));
            }
            return new Skip(ns.devname() + " is fsdax, set up by someone else (pfn device UUID " + ns.deviceUuid()
                    + "); it is not changed");
        }
        // An e820 namespace is shown as fsdax with no pfn device: its page map is in RAM, and it
        // carries no mark, so it is treated like a raw one.
        if ((ns.mode() == NamespaceMode.RAW || ns.mode() == NamespaceMode.FSDAX) && !ns.blockDevice().isEmpty()) {
            return new Reconfigure(ns);
        }
        return new Skip(ns.devname() + " is " + ns.mode().cliName() + ", set up by someone else; it is not changed");
    }

    private static boolean isFsdaxDevice(NamespaceInfo ns) {
        return ns.mode() == NamespaceMode.FSDAX && ns.claimedByPfn() && !ns.blockDevice().isEmpty()
                && ns.deviceBytes() > 0;
    }

    private static PoolDevice device(RegionInfo r, NamespaceInfo ns) {
        return new PoolDevice(r.devname(), r.bus(), r.numaNode(), "/dev/" + ns.blockDevice(), ns.deviceBytes(),
                technology(r.provider()));
    }

    /** Where a bus's memory comes from, as PoolDevice names it. */
    static String technology(String provider) {
        return RegionTechnology.of(provider);
    }

    private static String list(List<NamespaceInfo> namespaces) {
        return namespaces.stream()
                .map(ns -> ns.altName().isEmpty() ? ns.devname() : ns.devname() + " \"" + ns.altName() + "\"")
                .collect(Collectors.joining(", "));
    }

    // ---- doing it

    /** Runs the steps for one region until it is used or skipped; every change is followed by a fresh look. */
    private Step prepare(RegionInfo first) throws DeviceException {
        RegionInfo r = first;
        boolean made = false;
        for (int changes = 0; ; changes++) {
            Step step = plan(r);
            if (step instanceof Use use && made) {
                return wiped(use);
            }
            if (step instanceof Use || step instanceof Skip) {
                return step;
            }
            if (changes == MAX_CHANGES) {
                return new Skip("it did not settle after " + MAX_CHANGES + " changes; the next step would be " + step);
            }
            try {
                Optional<String> refusal = change(r, step);
                if (refusal.isPresent()) {
                    return new Skip(refusal.get());
                }
                made |= step instanceof Create || step instanceof Reconfigure;
            } catch (NdctlException e) {
                // The bindings leave a region they fail on in a state the next start can continue from.
                log.error("preparing region {} for LVM mode failed: {}", r.devname(), e.getMessage());
                return new Skip((e.isBusy() ? "in use: " : "preparing it failed: ") + e.getMessage());
            }
            Optional<RegionInfo> again = read(backend::regions).stream()
                    .filter(x -> x.devname().equals(first.devname()) && x.bus().equals(first.bus())).findFirst();
            if (again.isEmpty()) {
                return new Skip("the region vanished while it was prepared");
            }
            r = again.get();
        }
    }

    /**
     * A pool device this preparation made gets its first and last MiB zeroed: its start lies where
     * an earlier namespace's data may still be, and an old filesystem or physical volume must not
     * show up on it. A device that already was the pool's, or came back from its info block, keeps
     * everything.
     */
    private Step wiped(Use use) {
        try {
            eraser.wipeSignatures(use.device().region() + " pool device", Path.of(use.device().devicePath()));
            return use;
        } catch (DeviceException e) {
            log.error("the new pool device of {} could not be cleared: {}", use.device().region(), e.getMessage());
            return new Skip("its new pool device " + use.device().devicePath() + " could not be cleared: " + e.getMessage());
        }
    }

    /** Applies a change step; returns why it was refused, if it was. */
    private Optional<String> change(RegionInfo r, Step step) throws NdctlException {
        if (step instanceof Enable e) {
            NamespaceInfo ns = e.namespace();
            log.info("enabling the inactive namespace {} of {} as it is", ns.devname(), r.devname());
            backend.enable(r.devname(), ns.devname(), same(ns));
            return Optional.empty();
        }
        if (step instanceof Reconfigure c) {
            NamespaceInfo ns = c.namespace();
            // First look at the namespace as it is in service, so that one holding data is not even
            // disabled; the bindings look again at the raw device before they write.
            Optional<String> refusal = content.refusal(Path.of("/dev", ns.blockDevice()));
            if (refusal.isPresent()) {
                return refusal;
            }
            log.info("reconfiguring {} of {} to fsdax in place ({} bytes)", ns.devname(), r.devname(), ns.sizeBytes());
            return backend.reconfigureToFsdax(r.devname(), ns.devname(), same(ns), pool.newUuid(),
                    NamespaceSpec.DEFAULT_ALIGN, content);
        }
        if (step instanceof Create c) {
            log.info("creating the pool namespace {} in {}: {} bytes ({}% of {})", c.spec().altName(), r.devname(),
                    c.spec().sizeBytes(), percentage, r.sizeBytes());
            // Nothing to clean up first: a half-made pool namespace is completed, not destroyed.
            backend.create(r.devname(), c.spec(), ns -> false);
            return Optional.empty();
        }
        throw new IllegalArgumentException("not a change: " + step);
    }

    /** The namespace as it was read: the same device, UUIDs and state. */
    private static Predicate<NamespaceInfo> same(NamespaceInfo read) {
        return now -> now.devname().equals(read.devname()) && now.uuid().equals(read.uuid())
                && now.deviceUuid().equals(read.deviceUuid()) && now.active() == read.active()
                && now.mode() == read.mode() && now.sizeBytes() == read.sizeBytes();
    }

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
}
