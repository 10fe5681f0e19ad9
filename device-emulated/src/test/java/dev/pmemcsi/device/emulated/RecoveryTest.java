package dev.pmemcsi.device.emulated;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.pmemnative.loop.LoopDevice;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RecoveryTest {

    private static final long MIB = 1L << 20;
    private static final Map<String, Long> REGIONS = Map.of("region0", 1024 * MIB, "region1", 1024 * MIB);

    private static VolumeRecord rec(String id, String region, long offsetMib, VolumeState state) {
        return new VolumeRecord(id, region, offsetMib * MIB, 32 * MIB, 30 * MIB, VolumeMode.FSDAX, false, Map.of(), state, false);
    }

    private static Recovery.ObservedLoop loopFor(int n, VolumeRecord r, boolean busy) {
        return loop(n, r.region(), r.deviceOffset(), r.usableBytes(), Recovery.label(r.id()), busy);
    }

    private static Recovery.ObservedLoop loop(int n, String region, long offset, long size, String label, boolean busy) {
        LoopDevice l = new LoopDevice(n, Path.of("/dev/loop" + n), "/x/" + region + ".img", offset, size, false, label, 1, 2);
        return new Recovery.ObservedLoop(l, region, busy);
    }

    @Test
    void aDeviceStillAtItsSizeFromBeforeARecordedGrowthIsKeptAndGrown() {
        VolumeRecord grown = new VolumeRecord("g", "region0", 0, 64 * MIB, 62 * MIB, VolumeMode.FSDAX, false, Map.of(),
                VolumeState.READY, false);
        Recovery.ObservedLoop old = loop(3, "region0", grown.deviceOffset(), 30 * MIB, Recovery.label("g"), true);
        Recovery.Plan plan = Recovery.plan(List.of(grown), List.of(old), REGIONS);
        assertEquals(Map.of("g", old.loop()), plan.grow());
        assertTrue(plan.reuse().isEmpty());
        assertTrue(plan.attach().isEmpty());
        assertTrue(plan.detach().isEmpty());
        assertTrue(plan.unmanaged().isEmpty());
        assertTrue(Recovery.unaccounted(List.of(grown), List.of(old), REGIONS).isEmpty());
        // Another first byte, or a larger device, is not the volume's.
        Recovery.ObservedLoop shifted = loop(4, "region0", grown.deviceOffset() + MIB, 30 * MIB, Recovery.label("g"), false);
        Recovery.ObservedLoop larger = loop(5, "region0", grown.deviceOffset(), 63 * MIB, Recovery.label("g"), false);
        Recovery.Plan other = Recovery.plan(List.of(grown), List.of(shifted, larger), REGIONS);
        assertTrue(other.grow().isEmpty());
        assertEquals(List.of(grown), other.attach());
        assertEquals(2, other.detach().size());
    }

    @Test
    void theOldExtentOfAMovedVolumeIsNotErasedUnderItsOldDeviceInUse() {
        VolumeRecord moved = rec("pvc-0123456789abcdef0123456789abcdef0123456789abcdef0123456789a", "region0", 64,
                VolumeState.READY);
        VolumeRecord oldExtent = VolumeGrowth.moveHolder(rec(moved.id(), "region0", 0, VolumeState.READY));
        VolumeRecord shortId = rec("short", "region1", 64, VolumeState.READY);
        VolumeRecord shortOld = VolumeGrowth.moveHolder(rec("short", "region1", 0, VolumeState.READY));
        // The old devices still carry the volumes' labels, and someone opened them meanwhile.
        Recovery.ObservedLoop busyOld = loop(1, "region0", oldExtent.deviceOffset(), oldExtent.usableBytes(),
                Recovery.label(moved.id()), true);
        Recovery.ObservedLoop busyShort = loop(2, "region1", shortOld.deviceOffset(), shortOld.usableBytes(),
                Recovery.label("short"), true);
        Recovery.Plan plan = Recovery.plan(List.of(moved, oldExtent, shortId, shortOld), List.of(busyOld, busyShort), REGIONS);
        assertTrue(plan.finishDelete().isEmpty(), "erased under a device in use: " + plan.finishDelete());
        assertEquals(Map.of(oldExtent.id(), busyOld.loop(), shortOld.id(), busyShort.loop()), plan.stuck());
        assertEquals(List.of(moved, shortId), plan.attach());
    }

    @Test
    void afterAHostRebootEveryReadyVolumeIsReattached() {
        VolumeRecord a = rec("a", "region0", 0, VolumeState.READY);
        VolumeRecord b = rec("b", "region1", 32, VolumeState.READY);
        Recovery.Plan plan = Recovery.plan(List.of(a, b), List.of(), REGIONS);
        assertEquals(List.of(a, b), plan.attach());
        assertTrue(plan.reuse().isEmpty());
        assertTrue(plan.detach().isEmpty());
        assertTrue(plan.unmanaged().isEmpty());
    }

    @Test
    void afterADriverRestartExistingDevicesAreReused() {
        VolumeRecord a = rec("a", "region0", 0, VolumeState.READY);
        Recovery.ObservedLoop la = loopFor(3, a, true);
        Recovery.Plan plan = Recovery.plan(List.of(a), List.of(la), REGIONS);
        assertEquals(Map.of("a", la.loop()), plan.reuse());
        assertTrue(plan.attach().isEmpty());
        assertTrue(plan.detach().isEmpty());
    }

    @Test
    void aDeviceMustMatchRangeSizeAndLabelToBeReused() {
        VolumeRecord a = rec("a", "region0", 0, VolumeState.READY);
        Recovery.ObservedLoop wrongOffset = loop(1, "region0", a.deviceOffset() + MIB, a.usableBytes(), Recovery.label("a"), false);
        Recovery.ObservedLoop wrongRegion = loop(2, "region1", a.deviceOffset(), a.usableBytes(), Recovery.label("a"), false);
        Recovery.ObservedLoop wrongLabel = loop(3, "region0", a.deviceOffset(), a.usableBytes(), "/tmp/other", false);
        Recovery.Plan plan = Recovery.plan(List.of(a), List.of(wrongOffset, wrongRegion, wrongLabel), REGIONS);
        assertEquals(List.of(a), plan.attach());
        // Labelled as ours but matching nothing: detached. Not labelled: foreign, reported only.
        assertEquals(List.of(wrongOffset.loop(), wrongRegion.loop()), plan.detach().stream().map(Recovery.Detach::loop).toList());
        assertEquals(1, plan.unmanaged().size());
        assertEquals("/dev/loop3", plan.unmanaged().get(0).name());
        assertEquals(a.deviceOffset(), plan.unmanaged().get(0).offsetBytes());
    }

    @Test
    void duplicatesAreDetachedButTheMountedOneStays() {
        VolumeRecord a = rec("a", "region0", 0, VolumeState.READY);
        Recovery.ObservedLoop idle = loopFor(1, a, false);
        Recovery.ObservedLoop mounted = loopFor(2, a, true);
        Recovery.Plan plan = Recovery.plan(List.of(a), List.of(idle, mounted), REGIONS);
        assertEquals(Map.of("a", mounted.loop()), plan.reuse());
        assertEquals(List.of(new Recovery.Detach(idle.loop(), null, "duplicate loop device of volume a")), plan.detach());
    }

    @Test
    void aCrashDuringCreateIsRolledBackWithOrWithoutItsDevice() {
        VolumeRecord before = rec("a", "region0", 0, VolumeState.CREATING);
        VolumeRecord after = rec("b", "region0", 32, VolumeState.CREATING);
        Recovery.ObservedLoop lb = loopFor(5, after, false);
        Recovery.Plan plan = Recovery.plan(List.of(before, after), List.of(lb), REGIONS);
        assertEquals(List.of(before, after), plan.rollBack());
        assertEquals(List.of(lb.loop()), plan.detach().stream().map(Recovery.Detach::loop).toList());
        assertEquals("b", plan.detach().get(0).volumeId());
        assertTrue(plan.attach().isEmpty());
        assertTrue(plan.unmanaged().isEmpty());
    }

    @Test
    void aCrashDuringDeleteIsFinished() {
        VolumeRecord attached = rec("a", "region0", 0, VolumeState.DELETING);
        VolumeRecord detached = rec("b", "region1", 0, VolumeState.DELETING);
        Recovery.ObservedLoop la = loopFor(0, attached, false);
        Recovery.Plan plan = Recovery.plan(List.of(attached, detached), List.of(la), REGIONS);
        assertEquals(List.of(attached, detached), plan.finishDelete());
        assertEquals(List.of(la.loop()), plan.detach().stream().map(Recovery.Detach::loop).toList());
    }

    @Test
    void anInUseDeviceBlocksRecoveryOfItsVolumeAndIsReported() {
        VolumeRecord d = rec("d", "region0", 0, VolumeState.DELETING);
        Recovery.ObservedLoop ld = loopFor(4, d, true);
        Recovery.ObservedLoop strayBusy = loop(6, "region1", 64 * MIB, 16 * MIB, "pmem-csi:gone", true);
        Recovery.Plan plan = Recovery.plan(List.of(d), List.of(ld, strayBusy), REGIONS);
        assertTrue(plan.finishDelete().isEmpty());
        assertEquals(Map.of("d", ld.loop()), plan.stuck());
        assertTrue(plan.detach().isEmpty());
        assertEquals(2, plan.unmanaged().size());
        assertEquals("region1", plan.unmanaged().get(1).region());
        assertEquals(16 * MIB, plan.unmanaged().get(1).sizeBytes());
    }

    @Test
    void aDeviceWithoutSizeLimitCoversTheRestOfTheRegion() {
        Recovery.ObservedLoop whole = loop(7, "region0", 100 * MIB, 0, "", false);
        assertEquals(924 * MIB, Recovery.plan(List.of(), List.of(whole), REGIONS).unmanaged().get(0).sizeBytes());
    }

    @Test
    void unaccountedIgnoresDevicesOfAnyRow() {
        VolumeRecord c = rec("c", "region0", 0, VolumeState.CREATING);
        Recovery.ObservedLoop lc = loopFor(1, c, false);
        Recovery.ObservedLoop stray = loop(2, "region0", 512 * MIB, 16 * MIB, "pmem-csi:x", false);
        assertEquals(List.of("/dev/loop2"), Recovery.unaccounted(List.of(c), List.of(lc, stray), REGIONS).stream()
                .map(u -> u.name()).toList());
    }

    @Test
    void labelsFitTheKernelField() {
        String longId = "a".repeat(63);
        assertEquals(63, Recovery.label(longId).length());
        assertTrue(Recovery.label(longId).startsWith("pmem-csi:aaa"));
        assertEquals("pmem-csi:vol-1", Recovery.label("vol-1"));
    }

    @Test
    void validationFindsTablesThatDoNotFitTheConfiguration() {
        assertEquals(List.of(), Recovery.validate(List.of(rec("a", "region0", 0, VolumeState.READY)), REGIONS));
        assertEquals(1, Recovery.validate(List.of(rec("a", "region2", 0, VolumeState.READY)), REGIONS).size());
        assertEquals(1, Recovery.validate(List.of(rec("a", "region0", 1000, VolumeState.READY)), REGIONS).size());
        assertEquals(1, Recovery.validate(List.of(rec("a", "region0", 0, VolumeState.READY),
                rec("b", "region0", 16, VolumeState.READY)), REGIONS).size());
        assertEquals(1, Recovery.validate(List.of(rec("a", "region0", 0, VolumeState.READY),
                rec("a", "region1", 0, VolumeState.READY)), REGIONS).size());
    }
}
