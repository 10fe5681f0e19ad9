package dev.pmemcsi.device.lvm;

import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.PoolDevice;
import dev.pmemcsi.device.UnmanagedExtent;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns the pool devices into volume groups of the driver at start: {@code pvcreate
 * --dataalignment 2m} where a device is no physical volume yet, {@code vgcreate} tagged with the
 * driver name where a physical volume is in no volume group, and leaves alone (and reports) a
 * device that is someone else's physical volume or that pvcreate refuses. Each step is skipped when
 * done, so a start that stopped half way is completed by the next.
 */
final class PoolSetup {

    private static final Logger LOG = LoggerFactory.getLogger(PoolSetup.class);

    /** A volume group of the driver and the pool device beneath it. */
    record Pool(String vg, PoolDevice device, long peStart, long extentBytes, boolean dax) {}

    private final LvmNaming naming;
    private final Path sysfs;

    PoolSetup(LvmNaming naming, Path sysfs) {
        this.naming = naming;
        this.sysfs = sysfs;
    }

    /** The pool devices in volume groups of the driver, by volume group; the others into {@code refusedOut}. */
    Map<String, Pool> setUp(LvmCli lvm, List<PoolDevice> devices, List<UnmanagedExtent> refusedOut)
            throws DeviceException {
        List<LvmReports.PhysicalVolume> pvs = lvm.physicalVolumes();
        boolean changed = false;
        for (PoolDevice d : devices) {
            Optional<LvmReports.PhysicalVolume> pv = pvOf(pvs, d);
            try {
                if (pv.isEmpty()) {
                    lvm.createPhysicalVolume(d.devicePath());
                    LOG.info("{} of {} is now a physical volume (data aligned to 2 MiB)", d.devicePath(), d.region());
                }
                if (pv.isEmpty() || pv.get().isOrphan()) {
                    String vg = LvmNaming.volumeGroupName(d);
                    lvm.createVolumeGroup(vg, d.devicePath(), LvmDeviceManager.EXTENT_BYTES, List.of(naming.ownerTag()));
                    LOG.info("created volume group {} on {} of {}, tagged {}", vg, d.devicePath(), d.region(),
                            naming.ownerTag());
                    changed = true;
                }
            } catch (LvmException e) {
                LOG.error("pool device {} of {} is left alone: {}", d.devicePath(), d.region(), e.getMessage());
                refusedOut.add(new UnmanagedExtent(d.region(), d.devicePath(), 0, d.sizeBytes(),
                        "cannot be made a volume group of the driver: " + e.getMessage()));
            }
        }
        if (changed) {
            pvs = lvm.physicalVolumes();
        }
        Map<String, Pool> result = new LinkedHashMap<>();
        for (PoolDevice d : devices) {
            Optional<LvmReports.PhysicalVolume> pv = pvOf(pvs, d);
            if (pv.isEmpty() || pv.get().isOrphan()) {
                continue; // refused above
            }
            if (!naming.ownsGroup(pv.get().vgTags())) {
                LOG.warn("pool device {} of {} is a physical volume of volume group {}, which is not tagged {}: left alone",
                        d.devicePath(), d.region(), pv.get().vgName(), naming.ownerTag());
                refusedOut.add(new UnmanagedExtent(d.region(), d.devicePath(), 0, d.sizeBytes(),
                        "physical volume of volume group " + pv.get().vgName() + ", which the driver does not own"));
                continue;
            }
            if (pv.get().peStart() % (2 * CapacityMath.MIB) != 0) {
                LOG.warn("the data of physical volume {} starts at byte {}, not on a 2 MiB boundary: its volumes cannot"
                        + " use huge pages", d.devicePath(), pv.get().peStart());
            }
            result.putIfAbsent(pv.get().vgName(), new Pool(pv.get().vgName(), d, pv.get().peStart(), LvmDeviceManager.EXTENT_BYTES,
                    daxCapable(d.devicePath())));
        }
        return result;
    }

    private static Optional<LvmReports.PhysicalVolume> pvOf(List<LvmReports.PhysicalVolume> pvs, PoolDevice d) {
        return pvs.stream().filter(p -> p.device().equals(d.devicePath())).findFirst();
    }

    private boolean daxCapable(String device) {
        try {
            return Files.readString(sysfs.resolve("class/block").resolve(Path.of(device).getFileName().toString())
                    .resolve("queue/dax")).strip().equals("1");
        } catch (IOException e) {
            return false;
        }
    }

}
