package dev.pmemcsi.ndctl;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import jnr.ffi.Pointer;

/** An NVDIMM bus ({@code ndbusN}), e.g. the ACPI NFIT of a host. */
public final class NdctlBus {

    private final NdctlContext context;
    private final Pointer bus;

    NdctlBus(NdctlContext context, Pointer bus) {
        this.context = context;
        this.bus = bus;
    }

    public String devname() {
        context.check();
        return context.lib.ndctl_bus_get_devname(bus);
    }

    public String provider() {
        context.check();
        return context.lib.ndctl_bus_get_provider(bus);
    }

    public List<NdctlDimm> dimms() {
        context.check();
        List<NdctlDimm> result = new ArrayList<>();
        for (Pointer d = context.lib.ndctl_dimm_get_first(bus); d != null; d = context.lib.ndctl_dimm_get_next(d)) {
            result.add(new NdctlDimm(context, d, devname()));
        }
        result.sort(Comparator.comparingInt(NdctlDimm::id));
        return result;
    }

    public List<NdctlRegion> regions() {
        context.check();
        List<NdctlRegion> result = new ArrayList<>();
        String provider = provider();
        for (Pointer r = context.lib.ndctl_region_get_first(bus); r != null; r = context.lib.ndctl_region_get_next(r)) {
            result.add(new NdctlRegion(context, r, devname(), provider));
        }
        result.sort(Comparator.comparingInt(NdctlRegion::id));
        return result;
    }
}
