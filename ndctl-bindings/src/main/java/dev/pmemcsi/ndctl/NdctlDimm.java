package dev.pmemcsi.ndctl;

import java.util.Optional;
import jnr.ffi.Pointer;

/** One NVDIMM ({@code nmemN}). */
public final class NdctlDimm {

    private final NdctlContext context;
    private final Pointer dimm;
    private final String bus;

    NdctlDimm(NdctlContext context, Pointer dimm, String bus) {
        this.context = context;
        this.dimm = dimm;
        this.bus = bus;
    }

    public String devname() {
        context.check();
        return context.lib.ndctl_dimm_get_devname(dimm);
    }

    public int id() {
        context.check();
        return context.lib.ndctl_dimm_get_id(dimm);
    }

    public int handle() {
        context.check();
        return context.lib.ndctl_dimm_get_handle(dimm);
    }

    /**
     * Runs the SMART command when the DIMM supports it. Emulated DIMMs do not, and some firmware
     * rejects it; both give an empty answer rather than an error, because health is advisory.
     */
    public Optional<SmartHealth> smart() {
        context.check();
        LibNdctl lib = context.lib;
        if (lib.ndctl_dimm_is_cmd_supported(dimm, LibNdctl.ND_CMD_SMART) == 0) {
            return Optional.empty();
        }
        Pointer cmd = lib.ndctl_dimm_cmd_new_smart(dimm);
        if (cmd == null) {
            return Optional.empty();
        }
        try {
            if (lib.ndctl_cmd_submit(cmd) < 0 || lib.ndctl_cmd_get_firmware_status(cmd) != 0) {
                return Optional.empty();
            }
            int flags = lib.ndctl_cmd_smart_get_flags(cmd);
            double temp = (flags & SmartHealth.TEMP_VALID) != 0
                    ? lib.ndctl_decode_smart_temperature(lib.ndctl_cmd_smart_get_temperature(cmd)) : Double.NaN;
            return Optional.of(new SmartHealth(flags, lib.ndctl_cmd_smart_get_health(cmd), temp,
                    lib.ndctl_cmd_smart_get_spares(cmd), lib.ndctl_cmd_smart_get_life_used(cmd)));
        } finally {
            lib.ndctl_cmd_unref(cmd);
        }
    }

    public DimmInfo info() {
        context.check();
        LibNdctl lib = context.lib;
        int failed = 0;
        failed |= lib.ndctl_dimm_failed_save(dimm) > 0 ? DimmInfo.FAILED_SAVE : 0;
        failed |= lib.ndctl_dimm_failed_arm(dimm) > 0 ? DimmInfo.FAILED_ARM : 0;
        failed |= lib.ndctl_dimm_failed_restore(dimm) > 0 ? DimmInfo.FAILED_RESTORE : 0;
        failed |= lib.ndctl_dimm_failed_map(dimm) > 0 ? DimmInfo.FAILED_MAP : 0;
        failed |= lib.ndctl_dimm_failed_flush(dimm) > 0 ? DimmInfo.FAILED_FLUSH : 0;
        failed |= lib.ndctl_dimm_smart_pending(dimm) > 0 ? DimmInfo.SMART_EVENT_PENDING : 0;
        return new DimmInfo(bus, devname(), handle(), lib.ndctl_dimm_is_enabled(dimm) > 0, smart(), failed);
    }
}
