package dev.pmemcsi.device.ndctl;

import dev.pmemcsi.device.DeviceHealth;
import dev.pmemcsi.device.VolumeHealth;
import dev.pmemcsi.ndctl.BadBlock;
import dev.pmemcsi.ndctl.DimmInfo;
import dev.pmemcsi.ndctl.NamespaceInfo;
import dev.pmemcsi.ndctl.RegionInfo;
import dev.pmemcsi.ndctl.SmartHealth;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Health as the kernel reports it, turned into the driver's terms: a namespace that is not
 * enabled, a vanished device, bad blocks inside a namespace, and a DIMM's SMART state.
 */
final class NdctlHealth {

    private NdctlHealth() {}

    /** The health of a volume's namespace in its region. */
    static VolumeHealth of(RegionInfo region, NamespaceInfo ns) {
        long bad = badSectors(region, ns);
        if (!ns.active() || ns.blockDevice().isEmpty()) {
            return new VolumeHealth(true, "namespace " + ns.devname() + " of the volume is not enabled", bad);
        }
        if (!Files.exists(Path.of("/dev", ns.blockDevice()))) {
            return new VolumeHealth(true, "device /dev/" + ns.blockDevice() + " of the volume has disappeared", bad);
        }
        return bad > 0 ? new VolumeHealth(true, bad + " bad 512-byte blocks on /dev/" + ns.blockDevice(), bad) : VolumeHealth.ok();
    }

    /** Region lists cover every mode; namespace lists miss sector namespaces. Take the larger. */
    static long badSectors(RegionInfo region, NamespaceInfo ns) {
        long fromNamespace = ns.badBlocks().stream().mapToLong(BadBlock::lengthSectors).sum();
        long fromRegion = 0;
        if (ns.resource() >= 0 && ns.resource() >= region.resource()) {
            long first = (ns.resource() - region.resource()) / BadBlock.SECTOR;
            long sectors = ns.sizeBytes() / BadBlock.SECTOR;
            for (BadBlock bb : region.badBlocks()) {
                fromRegion += bb.overlap(first, sectors);
            }
        }
        return Math.max(fromNamespace, fromRegion);
    }

    /** A DIMM's state from its SMART answer and the platform's failure flags. */
    static DeviceHealth.DimmHealth dimmHealth(DimmInfo d) {
        Optional<SmartHealth> smart = d.smart();
        String state = "unknown";
        int spares = -1;
        int lifeUsed = -1;
        double temp = Double.NaN;
        if (smart.isPresent()) {
            SmartHealth s = smart.get();
            if (s.has(SmartHealth.HEALTH_VALID)) {
                int h = s.healthFlags();
                state = (h & SmartHealth.FATAL) != 0 ? "fatal"
                        : (h & SmartHealth.CRITICAL) != 0 ? "critical"
                        : (h & SmartHealth.NON_CRITICAL) != 0 ? "non-critical" : "ok";
            }
            spares = s.has(SmartHealth.SPARES_VALID) ? s.sparesPercent() : -1;
            lifeUsed = s.has(SmartHealth.USED_VALID) ? s.lifeUsedPercent() : -1;
            temp = s.has(SmartHealth.TEMP_VALID) ? s.temperatureCelsius() : Double.NaN;
        }
        // The platform's own failure flags override a healthier SMART answer: a DIMM that could
        // not be mapped holds no usable data, one that failed to save or restore may have lost some.
        if ((d.failedFlags() & DimmInfo.FAILED_MAP) != 0) {
            state = "fatal";
        } else if ((d.failedFlags() & (DimmInfo.FAILED_SAVE | DimmInfo.FAILED_RESTORE | DimmInfo.FAILED_FLUSH
                | DimmInfo.FAILED_ARM)) != 0 && !state.equals("fatal")) {
            state = "critical";
        }
        return new DeviceHealth.DimmHealth(d.devname(), state, spares, temp, lifeUsed);
    }
}
