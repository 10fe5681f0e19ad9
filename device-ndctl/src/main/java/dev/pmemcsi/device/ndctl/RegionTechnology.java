package dev.pmemcsi.device.ndctl;

import dev.pmemcsi.ndctl.RegionInfo;
import java.util.Locale;

/**
 * Where a region's memory comes from, read from the provider of its nd bus: {@code ACPI.NFIT}
 * for NVDIMMs, {@code e820} for legacy PMEM ({@code memmap=}), and {@code CXL} for the PMEM
 * regions the kernel's cxl_pmem driver puts on an nd bus of its own once a CXL region is
 * assembled. The names are those of the {@code technology} label of the region metrics.
 */
public final class RegionTechnology {

    public static final String NVDIMM = "nvdimm";
    public static final String CXL = "cxl";
    public static final String E820 = "e820";

    private RegionTechnology() {}

    /** The technology of a bus provider; an unknown provider counts as NVDIMM, the nd bus's original purpose. */
    public static String of(String provider) {
        String p = provider == null ? "" : provider.toLowerCase(Locale.ROOT);
        if (p.equals("e820")) {
            return E820;
        }
        if (p.contains("cxl")) {
            return CXL;
        }
        return NVDIMM;
    }

    public static String of(RegionInfo region) {
        return of(region.provider());
    }
}
