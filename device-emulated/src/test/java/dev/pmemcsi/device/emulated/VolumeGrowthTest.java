package dev.pmemcsi.device.emulated;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.Extent;
import dev.pmemcsi.device.OutOfRangeException;
import dev.pmemcsi.device.RegionLayout;
import dev.pmemcsi.device.VolumeMode;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class VolumeGrowthTest {

    private static final long MIB = 1L << 20;
    private static final long ALIGN = 16 * MIB;
    private static final long REGION = 1024 * MIB;

    /** A READY row exactly as a create of {@code requiredMib} places it at {@code offset}. */
    private static VolumeRecord created(VolumeMode mode, long offset, long requiredMib, long limit) {
        long raw = CapacityMath.rawBytesFor(mode, requiredMib * MIB, ALIGN);
        long usable = CapacityMath.usableBytes(mode, raw);
        return new VolumeRecord("v", "region0", offset, raw, usable, mode, true, Map.of("k", "v"), VolumeState.READY, false,
                CapacityMath.capacityBytes(usable, limit), "");
    }

    @ParameterizedTest
    @EnumSource(VolumeMode.class)
    void theExtentGrowsAsACreateWouldAllocateItAndTheDeviceKeepsItsFirstByte(VolumeMode mode) throws Exception {
        VolumeRecord r = created(mode, 48 * MIB, 40, 0);
        VolumeRecord g = VolumeGrowth.grown(r, 300 * MIB, 0, ALIGN, REGION).orElseThrow();
        assertEquals(CapacityMath.rawBytesFor(mode, 300 * MIB, ALIGN), g.rawBytes());
        assertEquals(r.offset(), g.offset());
        assertEquals(r.deviceOffset(), g.deviceOffset(), "data must not move");
        assertEquals(g.rawBytes() - (r.rawBytes() - r.usableBytes()), g.usableBytes());
        // At least what a created volume of that extent offers, so at least what was asked.
        assertTrue(g.usableBytes() >= CapacityMath.usableBytes(mode, g.rawBytes()));
        assertEquals(g.usableBytes(), g.capacity());
        assertEquals(VolumeState.READY, g.state());
        assertEquals(r.attributes(), g.attributes());
        assertTrue(g.eraseAfter());
    }

    @Test
    void theLimitCapsTheCapacityLikeACreate() throws Exception {
        VolumeRecord g = VolumeGrowth.grown(created(VolumeMode.FSDAX, 0, 40, 0), 100 * MIB, 100 * MIB, ALIGN, REGION)
                .orElseThrow();
        assertEquals(100 * MIB, g.capacity());
        assertTrue(g.usableBytes() >= 100 * MIB);
    }

    @Test
    void aRequestTheVolumeAlreadyMeetsChangesNothing() throws Exception {
        VolumeRecord r = created(VolumeMode.FSDAX, 0, 40, 0);
        assertEquals(Optional.empty(), VolumeGrowth.grown(r, 0, 0, ALIGN, REGION));
        assertEquals(Optional.empty(), VolumeGrowth.grown(r, r.capacity(), 0, ALIGN, REGION));
        assertEquals(Optional.empty(), VolumeGrowth.grown(r, MIB, 0, ALIGN, REGION));
    }

    @Test
    void aCapacityBelowTheDeviceGrowsWithoutANewExtent() throws Exception {
        VolumeRecord r = created(VolumeMode.FSDAX, 0, 40, 40 * MIB);
        assertTrue(r.usableBytes() > 41 * MIB, "fixture: the device offers more than the limit");
        VolumeRecord g = VolumeGrowth.grown(r, 41 * MIB, 0, ALIGN, REGION).orElseThrow();
        assertEquals(r.rawBytes(), g.rawBytes());
        assertEquals(r.usableBytes(), g.usableBytes());
        assertEquals(r.usableBytes(), g.capacity());
    }

    @Test
    void aLimitBelowTheRequestOrTheSmallestVolumeIsOutOfRange() {
        VolumeRecord r = created(VolumeMode.FSDAX, 0, 40, 0);
        OutOfRangeException e = assertThrows(OutOfRangeException.class,
                () -> VolumeGrowth.grown(r, 100 * MIB, 80 * MIB, ALIGN, REGION));
        assertTrue(e.getMessage().contains("below required_bytes"), e.getMessage());
        assertThrows(OutOfRangeException.class, () -> VolumeGrowth.grown(r, -1, 0, ALIGN, REGION));
    }

    @Test
    void moreThanTheLargestRegionCanHoldIsOutOfRange() {
        VolumeRecord r = created(VolumeMode.FSDAX, 0, 40, 0);
        OutOfRangeException e = assertThrows(OutOfRangeException.class,
                () -> VolumeGrowth.grown(r, REGION, 0, ALIGN, REGION));
        assertTrue(e.getMessage().contains("largest region"), e.getMessage());
        assertThrows(OutOfRangeException.class, () -> VolumeGrowth.grown(r, Long.MAX_VALUE, 0, ALIGN, REGION));
        // The whole region is still fine when the metadata leaves room for the request.
        long fits = CapacityMath.usableBytes(VolumeMode.FSDAX, REGION);
        assertEquals(REGION, assertDoesNotThrowGrown(r, fits).rawBytes());
    }

    private static VolumeRecord assertDoesNotThrowGrown(VolumeRecord r, long required) {
        try {
            return VolumeGrowth.grown(r, required, 0, ALIGN, REGION).orElseThrow();
        } catch (OutOfRangeException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void onlyFreeSpaceStartingRightAtTheEndOfTheExtentCounts() {
        VolumeRecord r = created(VolumeMode.FSDAX, 64 * MIB, 40, 0);
        long end = r.extent().end();
        RegionLayout freeAfter = new RegionLayout("region0", REGION, ALIGN, List.of(r.extent()));
        assertTrue(VolumeGrowth.freeAfter(freeAfter, r, 256 * MIB));
        assertTrue(VolumeGrowth.freeAfter(freeAfter, r, REGION - r.offset()));
        assertFalse(VolumeGrowth.freeAfter(freeAfter, r, REGION - r.offset() + ALIGN), "beyond the region's end");
        RegionLayout neighbour = new RegionLayout("region0", REGION, ALIGN,
                List.of(r.extent(), new Extent(end + 32 * MIB, ALIGN)));
        assertTrue(VolumeGrowth.freeAfter(neighbour, r, r.rawBytes() + 32 * MIB));
        assertFalse(VolumeGrowth.freeAfter(neighbour, r, r.rawBytes() + 48 * MIB));
        RegionLayout adjacent = new RegionLayout("region0", REGION, ALIGN, List.of(r.extent(), new Extent(end, ALIGN)));
        assertFalse(VolumeGrowth.freeAfter(adjacent, r, r.rawBytes() + ALIGN), "free space further on does not count");
    }
}
