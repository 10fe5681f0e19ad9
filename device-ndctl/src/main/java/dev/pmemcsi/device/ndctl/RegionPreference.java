package dev.pmemcsi.device.ndctl;

import java.util.Locale;

/**
 * Which kind of PMEM region direct mode fills first when a node has both NVDIMM and CXL regions.
 * A preferred region is chosen whenever one has room (best fit among them); the others only
 * when none has. {@link #NONE} treats all regions alike (best fit over all). NVDIMMs sit on the
 * memory bus and CXL memory behind a PCIe link, so CXL's latency is higher: {@link #NVDIMM} is
 * the default.
 */
public enum RegionPreference {
    NVDIMM(RegionTechnology.NVDIMM),
    CXL(RegionTechnology.CXL),
    NONE(null);

    private final String technology;

    RegionPreference(String technology) {
        this.technology = technology;
    }

    /** 0 for a region of the preferred technology (or any region without a preference), 1 for the others. */
    int rank(String regionTechnology) {
        return technology == null || technology.equals(regionTechnology) ? 0 : 1;
    }

    /** The option's value as documented: nvdimm, cxl or none. */
    public String optionValue() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses nvdimm, cxl or none, in any case. */
    public static RegionPreference parse(String text) {
        for (RegionPreference p : values()) {
            if (p.optionValue().equalsIgnoreCase(text == null ? "" : text.strip())) {
                return p;
            }
        }
        throw new IllegalArgumentException("\"" + text + "\" is not a region preference: nvdimm, cxl or none");
    }
}
