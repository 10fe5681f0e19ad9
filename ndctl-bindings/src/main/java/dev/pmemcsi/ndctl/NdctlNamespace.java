package dev.pmemcsi.ndctl;

import dev.pmemcsi.pmemnative.BlockDevice;
import dev.pmemcsi.pmemnative.NativeException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import jnr.constants.platform.Errno;
import jnr.ffi.Pointer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A namespace ({@code namespaceX.Y}). Its pfn, dax or btt device is looked up afresh on every
 * call and never kept, because disabling the namespace frees those objects.
 *
 * <p>After {@link #destroy()} the wrapper is dead: libndctl has freed the object, and every
 * further call throws {@link IllegalStateException} instead of touching freed memory.
 */
public final class NdctlNamespace {

    private static final Logger log = LoggerFactory.getLogger(NdctlNamespace.class);

    /** The fsdax/devdax info block and its padding, which must be cleared before the space is reused. */
    static final int INFO_BLOCK_BYTES = 8192;

    private final NdctlContext context;
    private final NdctlRegion region;
    private Pointer ns;

    NdctlNamespace(NdctlContext context, NdctlRegion region, Pointer ns) {
        this.context = context;
        this.region = region;
        this.ns = ns;
    }

    private Pointer ptr() {
        context.check();
        if (ns == null) {
            throw new IllegalStateException("namespace was destroyed; libndctl freed it");
        }
        return ns;
    }

    private LibNdctl lib() {
        context.check();
        return context.lib;
    }

    public NdctlRegion region() {
        return region;
    }

    public int id() {
        return lib().ndctl_namespace_get_id(ptr());
    }

    public String devname() {
        return lib().ndctl_namespace_get_devname(ptr());
    }

    public String altName() {
        Pointer n = lib().ndctl_namespace_get_alt_name(ptr());
        return n == null ? "" : n.getString(0, NamespaceSpec.MAX_NAME_BYTES + 1, StandardCharsets.UTF_8);
    }

    public UUID uuid() {
        byte[] b = new byte[16];
        lib().ndctl_namespace_get_uuid(ptr(), b);
        return Uuids.fromBytes(b);
    }

    /**
     * The UUID of the pfn device that claims the namespace, as recorded in its info block (and so
     * kept across reboots); {@link NamespaceInfo#NIL} when no pfn device claims it.
     */
    public UUID deviceUuid() {
        LibNdctl lib = lib();
        Pointer pfn = lib.ndctl_namespace_get_pfn(ptr());
        if (pfn == null) {
            return NamespaceInfo.NIL;
        }
        byte[] b = new byte[16];
        lib.ndctl_pfn_get_uuid(pfn, b);
        return Uuids.fromBytes(b);
    }

    /** Whether the namespace has a label; label-less ones have no name, no UUID and no holder class. */
    public boolean isLabelled() {
        return lib().ndctl_namespace_get_type(ptr()) == LibNdctl.ND_DEVICE_NAMESPACE_PMEM;
    }

    public NamespaceMode mode() {
        return NamespaceMode.fromCode(lib().ndctl_namespace_get_mode(ptr()));
    }

    public long size() {
        return lib().ndctl_namespace_get_size(ptr());
    }

    public long resource() {
        return lib().ndctl_namespace_get_resource(ptr());
    }

    /** Whether the namespace or its pfn/dax/btt device is bound: the namespace is in service. */
    public boolean isActive() {
        return lib().ndctl_namespace_is_active(ptr()) != 0;
    }

    public boolean isConfigurationIdle() {
        return lib().ndctl_namespace_is_configuration_idle(ptr()) == 1;
    }

    /** The block device name without {@code /dev/} ("" when none): pmemX[.Y] for fsdax/raw, pmemX.Ys for sector. */
    public String blockDevice() {
        LibNdctl lib = lib();
        Pointer p = ptr();
        Pointer pfn = lib.ndctl_namespace_get_pfn(p);
        if (pfn != null && lib.ndctl_pfn_is_enabled(pfn) > 0) {
            return nonNull(lib.ndctl_pfn_get_block_device(pfn));
        }
        Pointer btt = lib.ndctl_namespace_get_btt(p);
        if (btt != null && lib.ndctl_btt_is_enabled(btt) > 0) {
            return nonNull(lib.ndctl_btt_get_block_device(btt));
        }
        if (lib.ndctl_namespace_is_enabled(p) > 0) {
            return nonNull(lib.ndctl_namespace_get_block_device(p));
        }
        return "";
    }

    /**
     * The devdax character device name without {@code /dev/} ("" when none). The nd-bus dax
     * object's name ({@code dax0.0}) differs from the char device's ({@code dax0.2}); this is the latter.
     */
    public String charDevice() throws NdctlException {
        LibNdctl lib = lib();
        Pointer dax = lib.ndctl_namespace_get_dax(ptr());
        if (dax == null || lib.ndctl_dax_is_enabled(dax) <= 0) {
            return "";
        }
        Pointer daxRegion = lib.ndctl_dax_get_daxctl_region(dax);
        if (daxRegion == null) {
            return "";
        }
        LibDaxctl daxctl = NativeLibraries.daxctl();
        Pointer dev = daxctl.daxctl_dev_get_first(daxRegion);
        return dev == null ? "" : nonNull(daxctl.daxctl_dev_get_devname(dev));
    }

    /** Bytes the block or char device offers, after page-map or BTT metadata; 0 when not enabled. */
    public long deviceSize() {
        LibNdctl lib = lib();
        Pointer p = ptr();
        Pointer pfn = lib.ndctl_namespace_get_pfn(p);
        if (pfn != null && lib.ndctl_pfn_is_enabled(pfn) > 0) {
            return lib.ndctl_pfn_get_size(pfn);
        }
        Pointer dax = lib.ndctl_namespace_get_dax(p);
        if (dax != null && lib.ndctl_dax_is_enabled(dax) > 0) {
            return lib.ndctl_dax_get_size(dax);
        }
        Pointer btt = lib.ndctl_namespace_get_btt(p);
        if (btt != null && lib.ndctl_btt_is_enabled(btt) > 0) {
            return lib.ndctl_btt_get_size(btt);
        }
        return lib.ndctl_namespace_is_enabled(p) > 0 ? size() : 0;
    }

    /** Page-map alignment of an fsdax or devdax namespace; 0 for other modes. */
    public long align() {
        LibNdctl lib = lib();
        Pointer p = ptr();
        Pointer pfn = lib.ndctl_namespace_get_pfn(p);
        if (pfn != null) {
            return lib.ndctl_pfn_get_align(pfn);
        }
        Pointer dax = lib.ndctl_namespace_get_dax(p);
        return dax != null ? lib.ndctl_dax_get_align(dax) : 0;
    }

    /** Bad blocks of the block device (none are listed for sector and devdax namespaces). */
    public List<BadBlock> badBlocks() {
        LibNdctl lib = lib();
        Pointer p = ptr();
        List<BadBlock> result = new ArrayList<>();
        if (!isActive()) {
            return result;
        }
        for (Pointer bb = lib.ndctl_namespace_get_first_badblock(p); bb != null; bb = lib.ndctl_namespace_get_next_badblock(p)) {
            result.add(new BadBlock(bb.getLong(0), Integer.toUnsignedLong(bb.getInt(8))));
        }
        return result;
    }

    public NamespaceInfo info() throws NdctlException {
        NamespaceMode mode = mode();
        return new NamespaceInfo(region.devname(), devname(), altName(), uuid(), mode, size(), resource(), isActive(),
                isConfigurationIdle(), blockDevice(), mode == NamespaceMode.DEVDAX ? charDevice() : "", deviceSize(),
                align(), badBlocks(), deviceUuid());
    }

    /**
     * Enables an inactive namespace as it is, as a boot would: a disabled pfn, dax or btt device
     * that an interrupted change left claiming it lets go, forced raw mode is lifted, and the kernel
     * brings the namespace back in the mode its info block records (fsdax, devdax, sector), or raw
     * when it has none. Writes nothing to the namespace. Only inside {@link NdctlContext#configure}.
     */
    public void enable() throws NdctlException {
        context.checkConfiguring();
        Pointer p = ptr();
        LibNdctl lib = context.lib;
        String name = devname();
        if (lib.ndctl_namespace_is_active(p) != 0) {
            return;
        }
        releaseClaims(p, name);
        int rc = lib.ndctl_namespace_set_raw_mode(p, 0);
        if (rc < 0) {
            throw NdctlException.returned("ndctl_namespace_set_raw_mode", name, rc, null);
        }
        rc = lib.ndctl_namespace_enable(p);
        if (rc < 0) {
            throw NdctlException.enableFailed("ndctl_namespace_enable", name, rc);
        }
        log.info("enabled namespace {} in {}: it came back {}", name, region.devname(), mode().cliName());
    }

    /**
     * Turns the namespace into an fsdax namespace in place, keeping its size, name and UUID, as
     * {@code ndctl create-namespace --force --reconfig=<namespace> --mode=fsdax} does. On a
     * label-less region (e820, NVDIMMs without labels) this is the only way to give the one
     * namespace a page map, since the region cannot hold a second one:
     * <ol>
     *   <li>disable it safely (refused with EBUSY while its device is mounted or open) and release
     *       any claim;</li>
     *   <li>force raw mode and enable it, so that its block device shows the whole namespace from
     *       its first byte;</li>
     *   <li>ask {@code check}: if it refuses, the namespace is given back as it was (enabled, raw
     *       mode lifted, so an info block on it takes effect again) and the reason returned;</li>
     *   <li>zero its 8 KiB info block, so that no earlier configuration can come back;</li>
     *   <li>lift raw mode, disable it, and enforce fsdax (label-less namespaces have no holder class:
     *       the kernel refuses that write, and it is not needed there);</li>
     *   <li>the region's pfn seed gets {@code deviceUuid}, its page map on the PMEM and
     *       {@code align} (always set: on e820 the default would be 4 KiB), claims the namespace and
     *       is enabled. The kernel writes a new info block and the page map over the start of the
     *       namespace.</li>
     * </ol>
     * If a step after the check fails, the namespace is left raw and enabled: empty, and ready for
     * another attempt. Only inside {@link NdctlContext#configure}.
     *
     * @return empty when the namespace is now fsdax; the check's reason when it was left alone
     */
    public Optional<String> reconfigureToFsdax(UUID deviceUuid, long align, RawContentCheck check,
            CreateObserver observer) throws NdctlException {
        context.checkConfiguring();
        Pointer p = ptr();
        LibNdctl lib = context.lib;
        String name = devname();
        boolean labelled = isLabelled();
        int rc = lib.ndctl_namespace_disable_safe(p);
        if (rc < 0) {
            throw NdctlException.returned("ndctl_namespace_disable_safe", name, rc,
                    -rc == Errno.EBUSY.intValue() ? "the device is mounted or open" : null);
        }
        Pointer pfn;
        try {
            releaseClaims(p, name);
            enforceMode(p, name, labelled, NamespaceMode.RAW);
            rc = lib.ndctl_namespace_set_raw_mode(p, 1);
            if (rc < 0) {
                throw NdctlException.returned("ndctl_namespace_set_raw_mode", name, rc, null);
            }
            rc = lib.ndctl_namespace_enable(p);
            if (rc < 0) {
                throw NdctlException.enableFailed("ndctl_namespace_enable", name, rc);
            }
            String bdev = nonNull(lib.ndctl_namespace_get_block_device(p));
            if (bdev.isEmpty()) {
                throw new NdctlException("ndctl_namespace_get_block_device", name, Errno.ENODEV,
                        "the raw namespace has no block device");
            }
            Path raw = Path.of("/dev", bdev);
            Optional<String> refusal = check.refusal(raw);
            if (refusal.isPresent()) {
                giveBack(p, name);
                log.info("left namespace {} in {} as it was: {}", name, region.devname(), refusal.get());
                return refusal;
            }
            zeroInfoBlock(raw);
            lib.ndctl_namespace_set_raw_mode(p, 0);
            rc = lib.ndctl_namespace_disable_invalidate(p);
            if (rc < 0) {
                throw NdctlException.returned("ndctl_namespace_disable_invalidate", name, rc, null);
            }
            enforceMode(p, name, labelled, NamespaceMode.FSDAX);
            pfn = region.pfnSeed();
        } catch (NdctlException | RuntimeException e) {
            lib.ndctl_namespace_set_enforce_mode(p, NamespaceMode.RAW.code());
            giveBack(p, name);
            throw e;
        }
        String pfnName = lib.ndctl_pfn_get_devname(pfn);
        boolean claimed = false;
        try {
            NdctlRegion.check(lib.ndctl_pfn_set_uuid(pfn, Uuids.toBytes(deviceUuid)), "ndctl_pfn_set_uuid", pfnName);
            NdctlRegion.check(lib.ndctl_pfn_set_location(pfn, NdctlRegion.PFN_LOC_PMEM), "ndctl_pfn_set_location", pfnName);
            if (lib.ndctl_pfn_has_align(pfn) > 0) {
                NdctlRegion.check(lib.ndctl_pfn_set_align(pfn, align), "ndctl_pfn_set_align", pfnName);
            }
            NdctlRegion.check(lib.ndctl_pfn_set_namespace(pfn, p), "ndctl_pfn_set_namespace", pfnName);
            claimed = true;
            observer.completed(CreateStep.CLAIMED, name);
            rc = lib.ndctl_pfn_enable(pfn);
            if (rc < 0) {
                throw NdctlException.enableFailed("ndctl_pfn_enable", pfnName, rc);
            }
        } catch (NdctlException | RuntimeException e) {
            if (claimed) {
                lib.ndctl_pfn_set_namespace(pfn, null);
            }
            lib.ndctl_namespace_set_enforce_mode(p, NamespaceMode.RAW.code());
            giveBack(p, name);
            throw e;
        }
        observer.completed(CreateStep.ENABLED, name);
        long actualAlign = lib.ndctl_pfn_get_align(pfn);
        if (actualAlign != align) {
            log.warn("namespace {} in {} is fsdax with a page-map alignment of {} bytes, not {}", name,
                    region.devname(), actualAlign, align);
        }
        log.info("reconfigured namespace {} in {} to fsdax ({} usable bytes, {})", name, region.devname(),
                lib.ndctl_pfn_get_size(pfn), pfnName);
        return Optional.empty();
    }

    /** Label-less namespaces have no holder class; writing it fails there, and nothing depends on it. */
    private void enforceMode(Pointer p, String name, boolean labelled, NamespaceMode mode) throws NdctlException {
        int rc = context.lib.ndctl_namespace_set_enforce_mode(p, mode.code());
        if (rc < 0 && labelled) {
            throw NdctlException.returned("ndctl_namespace_set_enforce_mode", name, rc, null);
        }
    }

    /**
     * After a refused or failed reconfiguration: the namespace enabled again without forced raw mode,
     * so that it is in service as before (in the mode its info block records, or raw). Best effort:
     * the failure that led here is what the caller reports.
     */
    private void giveBack(Pointer p, String name) {
        LibNdctl lib = context.lib;
        if (lib.ndctl_namespace_is_enabled(p) > 0 && lib.ndctl_namespace_disable_safe(p) < 0) {
            log.warn("namespace {} stays enabled in forced raw mode: it could not be disabled", name);
            return;
        }
        try {
            releaseClaims(p, name);
        } catch (NdctlException e) {
            log.warn("namespace {}: {}", name, e.getMessage());
        }
        lib.ndctl_namespace_set_raw_mode(p, 0);
        int rc = lib.ndctl_namespace_enable(p);
        if (rc < 0) {
            log.warn("namespace {} could not be enabled again: {}", name,
                    NdctlException.enableFailed("ndctl_namespace_enable", name, rc).getMessage());
        }
    }

    /**
     * Destroys the namespace the way the ndctl CLI does, and also when a crash left it half made:
     * <ol>
     *   <li>an active namespace is disabled with {@code ndctl_namespace_disable_safe}, which refuses
     *       (-EBUSY) while its device is mounted or open; a half-made one has its pfn/dax/btt claim released;</li>
     *   <li>the namespace is forced to raw mode;</li>
     *   <li>its info block is zeroed through the raw block device, so that a later namespace at the
     *       same place with the same UUID does not come back in its old mode with the old data;</li>
     *   <li>{@code ndctl_namespace_delete} releases the label space.</li>
     * </ol>
     * Does not erase data beyond the info block. Only inside {@link NdctlContext#configure}.
     *
     * @throws NdctlException with EBUSY ({@link NdctlException#isBusy()}) when the device is in use
     */
    public void destroy() throws NdctlException {
        destroy(RawEraser.NONE);
    }

    /**
     * Destroys the namespace as {@link #destroy()} does, and erases its data with {@code eraser}
     * right after its info block is zeroed, through the raw device of the whole namespace. A
     * namespace whose device is already gone (a half-made one) has nothing to erase.
     */
    public void destroy(RawEraser eraser) throws NdctlException {
        context.checkConfiguring();
        Pointer p = ptr();
        LibNdctl lib = context.lib;
        String name = devname();
        if (size() == 0) {
            throw new NdctlException("ndctl_namespace_delete", name, Errno.ENXIO, "an idle seed has nothing to destroy");
        }
        if (lib.ndctl_namespace_is_active(p) != 0 || lib.ndctl_namespace_is_enabled(p) > 0) {
            int rc = lib.ndctl_namespace_disable_safe(p);
            if (rc < 0) {
                throw NdctlException.returned("ndctl_namespace_disable_safe", name, rc,
                        -rc == Errno.EBUSY.intValue() ? "the device is mounted or open" : null);
            }
        } else {
            releaseClaims(p, name);
        }
        NdctlRegion.check(lib.ndctl_namespace_set_enforce_mode(p, NamespaceMode.RAW.code()),
                "ndctl_namespace_set_enforce_mode", name);
        wipeInfoBlock(p, name, eraser);
        int rc = lib.ndctl_namespace_delete(p);
        if (rc < 0) {
            throw NdctlException.returned("ndctl_namespace_delete", name, rc, null);
        }
        ns = null;
        log.info("destroyed namespace {} in {}", name, region.devname());
    }

    /** A crash between claim and enable leaves a disabled pfn/dax/btt holding the namespace. */
    private void releaseClaims(Pointer p, String name) throws NdctlException {
        LibNdctl lib = context.lib;
        Pointer pfn = lib.ndctl_namespace_get_pfn(p);
        if (pfn != null) {
            NdctlRegion.check(lib.ndctl_pfn_set_namespace(pfn, null), "ndctl_pfn_set_namespace", lib.ndctl_pfn_get_devname(pfn));
        }
        Pointer dax = lib.ndctl_namespace_get_dax(p);
        if (dax != null) {
            NdctlRegion.check(lib.ndctl_dax_set_namespace(dax, null), "ndctl_dax_set_namespace", lib.ndctl_dax_get_devname(dax));
        }
        Pointer btt = lib.ndctl_namespace_get_btt(p);
        if (btt != null) {
            NdctlRegion.check(lib.ndctl_btt_set_namespace(btt, null), "ndctl_btt_set_namespace", lib.ndctl_btt_get_devname(btt));
        }
    }

    private void wipeInfoBlock(Pointer p, String name, RawEraser eraser) throws NdctlException {
        LibNdctl lib = context.lib;
        int rc = lib.ndctl_namespace_set_raw_mode(p, 1);
        if (rc < 0) {
            throw NdctlException.returned("ndctl_namespace_set_raw_mode", name, rc, null);
        }
        NdctlException failure = null;
        try {
            rc = lib.ndctl_namespace_enable(p);
            if (rc < 0) {
                throw NdctlException.enableFailed("ndctl_namespace_enable", name, rc);
            }
            String bdev = nonNull(lib.ndctl_namespace_get_block_device(p));
            if (bdev.isEmpty()) {
                throw new NdctlException("ndctl_namespace_get_block_device", name, Errno.ENODEV,
                        "the raw namespace has no block device");
            }
            zeroInfoBlock(Path.of("/dev", bdev));
            eraser.erase(Path.of("/dev", bdev));
        } catch (NdctlException e) {
            failure = e;
        }
        lib.ndctl_namespace_set_raw_mode(p, 0);
        rc = lib.ndctl_namespace_disable_invalidate(p);
        if (failure != null) {
            throw failure;
        }
        if (rc < 0) {
            throw NdctlException.returned("ndctl_namespace_disable_invalidate", name, rc, null);
        }
    }

    /**
     * Exclusive, so that a device someone opened in the meantime is left alone (EBUSY); O_DIRECT, so
     * that the zeroes are on the media before the namespace is invalidated.
     */
    private static void zeroInfoBlock(Path device) throws NdctlException {
        try (BlockDevice dev = BlockDevice.open(device, true, true)) {
            dev.zeroHead(INFO_BLOCK_BYTES);
        } catch (NativeException e) {
            throw new NdctlException("zero info block", device.toString(), e.errno(), e.getMessage(), e);
        }
    }

    private static String nonNull(String s) {
        return s == null ? "" : s;
    }
}
