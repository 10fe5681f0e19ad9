package dev.pmemcsi.ndctl;

import jnr.ffi.Pointer;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.byref.PointerByReference;

/**
 * The subset of libndctl.so.6 (ndctl 76) that the driver calls, mapped for jnr-ffi.
 *
 * <p>This is the raw C surface: every object is an opaque {@link Pointer} that the library may free
 * behind the caller's back. Use {@link NdctlContext} and the wrappers it hands out instead; they
 * know which calls free what. The interface is public only because jnr-ffi generates its
 * implementation in another class loader.
 *
 * <p>Conventions the mapping relies on: setters, enable, disable and delete return 0 or a negative
 * errno and leave {@code errno} alone; {@code unsigned long long}/{@code unsigned long} map to
 * {@code long} (ULLONG_MAX is -1), {@code unsigned int} and enums to {@code int}, the single
 * {@code bool} return to {@code byte}; a {@code uuid_t} is a 16-byte array in RFC 4122 order.
 */
public interface LibNdctl {

    int ND_CMD_SMART = 1;

    /** A namespace type without labels: one namespace over the whole region, as on e820 or label-less NVDIMMs. */
    int ND_DEVICE_NAMESPACE_IO = 4;

    /** A namespace type with labels: a region divides into many namespaces. */
    int ND_DEVICE_NAMESPACE_PMEM = 5;

    int ndctl_new(PointerByReference ctx);

    Pointer ndctl_unref(Pointer ctx);

    void ndctl_set_log_priority(Pointer ctx, int priority);

    // ---- buses
    Pointer ndctl_bus_get_first(Pointer ctx);

    Pointer ndctl_bus_get_next(Pointer bus);

    String ndctl_bus_get_devname(Pointer bus);

    String ndctl_bus_get_provider(Pointer bus);

    // ---- DIMMs
    Pointer ndctl_dimm_get_first(Pointer bus);

    Pointer ndctl_dimm_get_next(Pointer dimm);

    String ndctl_dimm_get_devname(Pointer dimm);

    int ndctl_dimm_get_handle(Pointer dimm);

    int ndctl_dimm_get_id(Pointer dimm);

    int ndctl_dimm_is_enabled(Pointer dimm);

    int ndctl_dimm_is_cmd_supported(Pointer dimm, int cmd);

    int ndctl_dimm_failed_save(Pointer dimm);

    int ndctl_dimm_failed_arm(Pointer dimm);

    int ndctl_dimm_failed_restore(Pointer dimm);

    int ndctl_dimm_failed_map(Pointer dimm);

    int ndctl_dimm_failed_flush(Pointer dimm);

    int ndctl_dimm_smart_pending(Pointer dimm);

    Pointer ndctl_dimm_cmd_new_smart(Pointer dimm);

    int ndctl_cmd_submit(Pointer cmd);

    int ndctl_cmd_get_firmware_status(Pointer cmd);

    int ndctl_cmd_smart_get_flags(Pointer cmd);

    int ndctl_cmd_smart_get_health(Pointer cmd);

    int ndctl_cmd_smart_get_temperature(Pointer cmd);

    int ndctl_cmd_smart_get_spares(Pointer cmd);

    int ndctl_cmd_smart_get_life_used(Pointer cmd);

    double ndctl_decode_smart_temperature(int temp);

    void ndctl_cmd_unref(Pointer cmd);

    // ---- regions
    Pointer ndctl_region_get_first(Pointer bus);

    Pointer ndctl_region_get_next(Pointer region);

    int ndctl_region_get_id(Pointer region);

    String ndctl_region_get_devname(Pointer region);

    int ndctl_region_get_interleave_ways(Pointer region);

    long ndctl_region_get_size(Pointer region);

    @SaveError
    long ndctl_region_get_available_size(Pointer region);

    @SaveError
    long ndctl_region_get_max_available_extent(Pointer region);

    long ndctl_region_get_align(Pointer region);

    long ndctl_region_get_resource(Pointer region);

    int ndctl_region_get_numa_node(Pointer region);

    int ndctl_region_get_persistence_domain(Pointer region);

    String ndctl_region_get_type_name(Pointer region);

    int ndctl_region_get_ro(Pointer region);

    int ndctl_region_is_enabled(Pointer region);

    /** {@code ND_DEVICE_NAMESPACE_PMEM} (5) with label support, {@code ND_DEVICE_NAMESPACE_IO} (4) without (label-less, e820). */
    int ndctl_region_get_nstype(Pointer region);

    Pointer ndctl_region_get_namespace_seed(Pointer region);

    Pointer ndctl_region_get_pfn_seed(Pointer region);

    Pointer ndctl_region_get_dax_seed(Pointer region);

    Pointer ndctl_region_get_btt_seed(Pointer region);

    Pointer ndctl_region_get_first_badblock(Pointer region);

    Pointer ndctl_region_get_next_badblock(Pointer region);

    // ---- namespaces
    Pointer ndctl_namespace_get_first(Pointer region);

    Pointer ndctl_namespace_get_next(Pointer ns);

    int ndctl_namespace_get_id(Pointer ns);

    String ndctl_namespace_get_devname(Pointer ns);

    /** Returned as a pointer: jnr-ffi would decode it with the JVM's default charset, and names are UTF-8. */
    Pointer ndctl_namespace_get_alt_name(Pointer ns);

    int ndctl_namespace_set_alt_name(Pointer ns, @In byte[] nulTerminatedUtf8);

    void ndctl_namespace_get_uuid(Pointer ns, @Out byte[] uuid16);

    int ndctl_namespace_set_uuid(Pointer ns, @In byte[] uuid16);

    long ndctl_namespace_get_size(Pointer ns);

    int ndctl_namespace_set_size(Pointer ns, long size);

    long ndctl_namespace_get_resource(Pointer ns);

    int ndctl_namespace_get_mode(Pointer ns);

    int ndctl_namespace_set_enforce_mode(Pointer ns, int mode);

    int ndctl_namespace_is_enabled(Pointer ns);

    byte ndctl_namespace_is_active(Pointer ns);

    int ndctl_namespace_is_configuration_idle(Pointer ns);

    int ndctl_namespace_enable(Pointer ns);

    int ndctl_namespace_disable_invalidate(Pointer ns);

    int ndctl_namespace_disable_safe(Pointer ns);

    int ndctl_namespace_delete(Pointer ns);

    int ndctl_namespace_set_raw_mode(Pointer ns, int rawMode);

    String ndctl_namespace_get_block_device(Pointer ns);

    int ndctl_namespace_get_numa_node(Pointer ns);

    /** The namespace's device type, the same values as {@link #ndctl_region_get_nstype}. */
    int ndctl_namespace_get_type(Pointer ns);

    Pointer ndctl_namespace_get_pfn(Pointer ns);

    Pointer ndctl_namespace_get_dax(Pointer ns);

    Pointer ndctl_namespace_get_btt(Pointer ns);

    Pointer ndctl_namespace_get_first_badblock(Pointer ns);

    Pointer ndctl_namespace_get_next_badblock(Pointer ns);

    // ---- pfn (fsdax)
    String ndctl_pfn_get_devname(Pointer pfn);

    int ndctl_pfn_set_uuid(Pointer pfn, @In byte[] uuid16);

    void ndctl_pfn_get_uuid(Pointer pfn, @Out byte[] uuid16);

    int ndctl_pfn_set_location(Pointer pfn, int location);

    int ndctl_pfn_has_align(Pointer pfn);

    int ndctl_pfn_set_align(Pointer pfn, long align);

    long ndctl_pfn_get_align(Pointer pfn);

    int ndctl_pfn_set_namespace(Pointer pfn, Pointer ns);

    int ndctl_pfn_enable(Pointer pfn);

    int ndctl_pfn_is_enabled(Pointer pfn);

    long ndctl_pfn_get_size(Pointer pfn);

    String ndctl_pfn_get_block_device(Pointer pfn);

    // ---- dax (devdax)
    String ndctl_dax_get_devname(Pointer dax);

    int ndctl_dax_set_uuid(Pointer dax, @In byte[] uuid16);

    int ndctl_dax_set_location(Pointer dax, int location);

    int ndctl_dax_set_align(Pointer dax, long align);

    long ndctl_dax_get_align(Pointer dax);

    int ndctl_dax_set_namespace(Pointer dax, Pointer ns);

    int ndctl_dax_enable(Pointer dax);

    int ndctl_dax_is_enabled(Pointer dax);

    long ndctl_dax_get_size(Pointer dax);

    Pointer ndctl_dax_get_daxctl_region(Pointer dax);

    // ---- btt (sector)
    String ndctl_btt_get_devname(Pointer btt);

    int ndctl_btt_set_uuid(Pointer btt, @In byte[] uuid16);

    int ndctl_btt_set_sector_size(Pointer btt, int sectorSize);

    int ndctl_btt_get_sector_size(Pointer btt);

    int ndctl_btt_set_namespace(Pointer btt, Pointer ns);

    int ndctl_btt_enable(Pointer btt);

    int ndctl_btt_is_enabled(Pointer btt);

    long ndctl_btt_get_size(Pointer btt);

    String ndctl_btt_get_block_device(Pointer btt);
}
