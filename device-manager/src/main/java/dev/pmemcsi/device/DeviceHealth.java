package dev.pmemcsi.device;

import java.util.List;
import java.util.Map;

/**
 * Health of the hardware behind a backend.
 *
 * @param dimms            one entry per module the kernel exposes; empty when there are none
 * @param regionBadBlocks  known bad blocks (512-byte sectors) per region
 */
public record DeviceHealth(List<DimmHealth> dimms, Map<String, Long> regionBadBlocks) {

    public DeviceHealth {
        dimms = List.copyOf(dimms);
        regionBadBlocks = Map.copyOf(regionBadBlocks);
    }

    /**
     * One module. Fields the kernel does not expose are -1 (numbers) or empty.
     *
     * @param dimm            device name, e.g. {@code nmem0}
     * @param healthState     "ok", "non-critical", "critical", "fatal", or "unknown"
     * @param sparesPercent   remaining spare blocks in percent, or -1
     * @param temperatureCelsius media temperature, or NaN
     * @param lifeUsedPercent wear in percent, or -1
     */
    public record DimmHealth(String dimm, String healthState, int sparesPercent,
                             double temperatureCelsius, int lifeUsedPercent) {}
}
