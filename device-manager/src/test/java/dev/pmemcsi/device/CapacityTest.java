package dev.pmemcsi.device;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class CapacityTest {

    private static final long MIB = CapacityMath.MIB;
    private static final long GIB = CapacityMath.GIB;

    @Test
    void namespaceRegionsOfferTheUsableBytesOfTheirMode() {
        Capacity c = new Capacity(List.of(new RegionCapacity("region0", 0, 16 * MIB, 4 * GIB, 2 * GIB, GIB, 2 * GIB)));
        Capacity.Requestable fsdax = c.requestable(VolumeMode.FSDAX);
        assertEquals(CapacityMath.usableBytes(VolumeMode.FSDAX, 2 * GIB), fsdax.availableBytes());
        assertEquals(CapacityMath.usableBytes(VolumeMode.FSDAX, GIB), fsdax.maxVolumeBytes());
        assertEquals(CapacityMath.minimumCapacity(VolumeMode.FSDAX, 16 * MIB), fsdax.minVolumeBytes());
        assertEquals(CapacityMath.usableBytes(VolumeMode.SECTOR, GIB), c.requestable(VolumeMode.SECTOR).maxVolumeBytes());
    }

    @Test
    void linearVolumesOfferTheirWholeSizeAndOnlyFsdax() {
        // A volume group of 4 MiB extents: a logical volume's device is all usable, the page map
        // lives in the namespace below it, and the smallest volume is one extent.
        RegionCapacity vg0 = new RegionCapacity("region0", 0, 4 * MIB, 4 * GIB, 3 * GIB + 6 * MIB, 3 * GIB + 6 * MIB,
                GIB - 6 * MIB, true);
        RegionCapacity vg1 = new RegionCapacity("region1", 1, 4 * MIB, 4 * GIB, GIB, GIB, 3 * GIB, true);
        Capacity c = new Capacity(List.of(vg0, vg1));
        Capacity.Requestable fsdax = c.requestable(VolumeMode.FSDAX);
        assertEquals(4 * GIB + 4 * MIB, fsdax.availableBytes(), "free space aligned down to whole extents");
        assertEquals(3 * GIB + 4 * MIB, fsdax.maxVolumeBytes());
        assertEquals(4 * MIB, fsdax.minVolumeBytes());
        assertEquals(new Capacity.Requestable(0, 0, 0), c.requestable(VolumeMode.SECTOR), "no sector volumes on LVM");
    }
}
