package dev.pmemcsi.device.emulated;

import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceHealth;
import dev.pmemcsi.device.VolumeHealth;
import dev.pmemcsi.pmemnative.loop.LoopDevice;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The health of emulated volumes and regions: a loop device that no longer shows its volume, and
 * the conditions real PMEM reports through the kernel, injected here by test fault files
 * ({@link FaultFiles}).
 */
final class EmulatedHealth {

    private final FaultFiles faults;
    private final LoopAttachments loops;
    private final RegionFiles regions;

    EmulatedHealth(FaultFiles faults, LoopAttachments loops, RegionFiles regions) {
        this.faults = faults;
        this.loops = loops;
        this.regions = regions;
    }

    /** The health of a READY volume and its loop device. */
    VolumeHealth of(VolumeRecord r, LoopDevice loop) throws DeviceException {
        String volumeId = r.id();
        if (faults.gone(volumeId)) {
            return new VolumeHealth(true, "device " + loop.device() + " of volume " + volumeId + " has disappeared (test fault "
                    + faults.goneFile(volumeId) + ")", 0);
        }
        if (!loops.stillOurs(loop, r)) {
            return new VolumeHealth(true, "loop device " + loop.device() + " no longer shows volume " + volumeId + " in "
                    + regions.path(r.region()).getFileName() + "; restarting the driver reattaches it", 0);
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

    /** Bad blocks per region, summed over the volumes in it; no DIMMs to report. */
    DeviceHealth ofRegions(List<VolumeRecord> rows) {
        Map<String, Long> bad = new LinkedHashMap<>();
        regions.sizes().keySet().forEach(region -> bad.put(region, 0L));
        for (VolumeRecord r : rows) {
            bad.merge(r.region(), Math.max(0, faults.badBlocks(r.id())), Long::sum);
        }
        return new DeviceHealth(List.of(), bad);
    }
}
