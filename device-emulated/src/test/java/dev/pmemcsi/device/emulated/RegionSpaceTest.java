package dev.pmemcsi.device.emulated;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.Extent;
import dev.pmemcsi.device.RegionCapacity;
import dev.pmemcsi.device.RegionLayout;
import dev.pmemcsi.device.UnmanagedExtent;
import dev.pmemcsi.device.VolumeMode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RegionSpaceTest {

    private static final long MIB = 1L << 20;
    private static final long ALIGN = 16 * MIB;

    @Test
    void mergeJoinsOverlappingAndTouchingExtents() {
        assertEquals(List.of(new Extent(0, 48), new Extent(64, 16)),
                RegionSpace.merge(List.of(new Extent(32, 16), new Extent(0, 40), new Extent(64, 16))));
    }

    @Test
    void blockedSpaceIsNeitherFreeNorUsed() {
        Map<String, Long> regions = Map.of("region0", 256 * MIB);
        VolumeRecord v = new VolumeRecord("a", "region0", 0, 32 * MIB, 30 * MIB, VolumeMode.FSDAX, false, Map.of(),
                VolumeState.READY, false);
        UnmanagedExtent foreign = new UnmanagedExtent("region0", "/dev/loop9", 20 * MIB, 40 * MIB, "foreign");
        RegionCapacity c = new RegionSpace(regions, ALIGN, List.of(v), List.of(foreign)).capacity().get(0);
        assertEquals(32 * MIB, c.usedBytes());
        // Blocked up to 60 MiB, so free space starts at the next unit boundary, 64 MiB.
        assertEquals(192 * MIB, c.availableBytes());
        assertEquals(192 * MIB, c.maxExtentBytes());
    }

    /** Random creates and deletes against the allocator: every unit is either allocated or free, never both. */
    @Test
    void allocatedPlusFreeIsTotalAfterRandomOperations() {
        for (long seed = 0; seed < 20; seed++) {
            Random rnd = new Random(seed);
            Map<String, Long> regions = new LinkedHashMap<>();
            regions.put("region0", (8 + rnd.nextInt(64)) * ALIGN);
            regions.put("region1", (8 + rnd.nextInt(64)) * ALIGN);
            List<VolumeRecord> records = new ArrayList<>();
            for (int op = 0; op < 300; op++) {
                if (!records.isEmpty() && rnd.nextInt(3) == 0) {
                    records.remove(rnd.nextInt(records.size()));
                } else {
                    VolumeMode mode = rnd.nextBoolean() ? VolumeMode.FSDAX : VolumeMode.SECTOR;
                    long raw = CapacityMath.rawBytesFor(mode, (1 + rnd.nextInt(200)) * MIB, ALIGN);
                    RegionSpace space = new RegionSpace(regions, ALIGN, records, List.of());
                    Optional<RegionLayout> r = RegionLayout.chooseRegion(space.layouts(), raw);
                    if (r.isPresent()) {
                        Extent e = r.get().bestFit(raw).orElseThrow();
                        records.add(new VolumeRecord("v" + op, r.get().region(), e.offset(), raw,
                                CapacityMath.usableBytes(mode, raw), mode, false, Map.of(), VolumeState.READY, false));
                    } else {
                        assertTrue(space.layouts().stream().allMatch(l -> l.maxExtentBytes() < raw), "seed " + seed);
                    }
                }
                RegionSpace space = new RegionSpace(regions, ALIGN, records, List.of());
                assertEquals(List.of(), Recovery.validate(records, regions), "seed " + seed);
                for (RegionCapacity c : space.capacity()) {
                    assertEquals(0, c.usedBytes() % ALIGN);
                    assertEquals(c.totalBytes() / ALIGN, c.usedBytes() / ALIGN + c.availableBytes() / ALIGN,
                            "seed " + seed + " op " + op + " " + c);
                    assertTrue(c.maxExtentBytes() <= c.availableBytes());
                }
            }
        }
    }
}
