package dev.pmemcsi.device.ndctl;

import static dev.pmemcsi.device.ndctl.FakeNamespaceBackend.GIB;
import static dev.pmemcsi.device.ndctl.FakeNamespaceBackend.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.Capacity;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.NoSpaceException;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.OutOfRangeException;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.VolumeAccess;
import dev.pmemcsi.device.VolumeEraser;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.device.VolumeInUseException;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeNotFoundException;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.ndctl.NamespaceInfo;
import dev.pmemcsi.ndctl.NamespaceMode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Growing direct-mode volumes by moving them to a larger namespace, and what a crash at each step leaves. */
class NdctlVolumeMoveTest {

    /** Stands in for the process dying at a step of a move. */
    private static final class Crash extends RuntimeException {
        Crash(String step) {
            super("crash at " + step);
        }
    }

    private FakeNamespaceBackend backend;
    /** What each device holds: the fake copier moves it, so a test sees where the data is. */
    private final Map<Path, String> contents = new HashMap<>();
    private final List<String> copies = new ArrayList<>();
    private final List<Path> erased = new ArrayList<>();
    private final Set<Path> busyDevices = new java.util.HashSet<>();
    private DeviceException copyFailure;
    private NdctlDeviceManager dm;
    private final VolumeNamespaces naming = new VolumeNamespaces("pmem-csi.dev");

    @BeforeEach
    void setUp() throws DeviceException {
        backend = new FakeNamespaceBackend().withQemuRegions();
        dm = manager();
        dm.start();
    }

    private NdctlDeviceManager manager() {
        VolumeEraser eraser = new VolumeEraser() {
            @Override
            public void erase(String id, Path dev) {
                erased.add(dev);
                contents.remove(dev);
            }

            @Override
            public void wipeSignatures(String id, Path dev) {
                contents.remove(dev);
            }
        };
        VolumeCopier copier = (id, from, to, bytes) -> {
            if (copyFailure != null) {
                throw copyFailure;
            }
            if (busyDevices.contains(from)) {
                throw new VolumeInUseException(from + " is mounted");
            }
            copies.add(from + " -> " + to + " " + bytes);
            contents.put(to, contents.get(from));
        };
        return new NdctlDeviceManager("pmem-csi.dev", backend, eraser, OperationListener.NONE, copier);
    }

    /** A manager as after a restart of the driver: a new process on the same namespaces. */
    private NdctlDeviceManager restarted() throws DeviceException {
        NdctlDeviceManager m = manager();
        m.start();
        return m;
    }

    private PmemVolume volumeWithData(String name, long bytes, VolumeMode mode) throws DeviceException {
        return volumeWithData(name, bytes, mode, false);
    }

    private PmemVolume volumeWithData(String name, long bytes, VolumeMode mode, boolean eraseAfter) throws DeviceException {
        PmemVolume v = dm.createVolume(new VolumeRequest(VolumeIds.fromName(name), bytes, 0, mode, eraseAfter, Map.of(),
                new VolumeAccess(mode == VolumeMode.FSDAX ? VolumeAccess.XFS : VolumeAccess.EXT4, false)));
        contents.put(v.devicePath(), "data of " + name);
        return v;
    }

    private String dataOf(DeviceManager m, String id) throws DeviceException {
        return contents.get(m.getVolume(id).orElseThrow().devicePath());
    }

    private List<NamespaceInfo> namespacesOf(String id) {
        return backend.allNamespaces().stream().filter(ns -> naming.owner(ns).isPresent()
                && naming.owner(ns).get().volumeId().equals(id)).toList();
    }

    /** Every byte of every region is free or a volume's: nothing leaked, nothing counted twice. */
    private static void assertExact(DeviceManager m) throws DeviceException {
        Capacity c = m.capacity();
        long volumes = m.listVolumes().stream().mapToLong(PmemVolume::allocatedBytes).sum();
        assertEquals(volumes, c.usedBytes());
        assertEquals(c.totalBytes(), c.availableBytes() + c.usedBytes());
    }

    @Test
    void everyGenerationHasItsOwnUuidAndDecodesForItsVolumeOnly() {
        VolumeAccess xfs = new VolumeAccess(VolumeAccess.XFS, false);
        Set<java.util.UUID> seen = new java.util.HashSet<>();
        for (int g = 0; g < VolumeNamespaces.GENERATIONS; g++) {
            java.util.UUID u = naming.uuidFor("vol-1", true, 64 * MIB, xfs, g);
            assertTrue(seen.add(u), "generation " + g + " repeats a UUID");
            NamespaceInfo ns = new NamespaceInfo("region0", "namespace0.1", "vol-1", u, NamespaceMode.FSDAX, 96 * MIB,
                    0x100000000L, true, false, "pmem0.1", "", 80 * MIB, 2 * MIB, List.of());
            assertEquals(java.util.Optional.of(new VolumeNamespaces.Owned("vol-1", true, 64 * MIB, xfs, g)),
                    naming.owner(ns));
            NamespaceInfo renamed = new NamespaceInfo("region0", "namespace0.1", "vol-2", u, NamespaceMode.FSDAX,
                    96 * MIB, 0x100000000L, true, false, "pmem0.1", "", 80 * MIB, 2 * MIB, List.of());
            assertTrue(naming.owner(renamed).isEmpty());
        }
        // Generation 0 is the UUID volumes had before generations existed.
        assertEquals(naming.uuidFor("vol-1", true, 64 * MIB, xfs), naming.uuidFor("vol-1", true, 64 * MIB, xfs, 0));
        assertTrue(VolumeNamespaces.isNext(3, 0));
        assertTrue(VolumeNamespaces.isNext(0, 1));
        assertTrue(!VolumeNamespaces.isNext(1, 0));
    }

    @Test
    void directModeGrowsOffline() {
        assertEquals(DeviceManager.Expansion.OFFLINE, dm.expansion());
    }

    @ParameterizedTest
    @ValueSource(strings = {"FSDAX", "SECTOR"})
    void growsByMovingToALargerNamespaceKeepingIdRecordAndData(String modeName) throws DeviceException {
        VolumeMode mode = VolumeMode.valueOf(modeName);
        PmemVolume v = volumeWithData("grow", 100 * MIB, mode);
        PmemVolume grown = dm.expandVolume(v.id(), 300 * MIB, 0, false);

        assertEquals(v.id(), grown.id());
        assertTrue(grown.capacityBytes() >= 300 * MIB, "capacity " + grown.capacityBytes());
        assertEquals(mode, grown.mode());
        assertEquals(v.access(), grown.access());
        assertEquals(v.region(), grown.region(), "the old region had room");
        assertNotEquals(v.devicePath(), grown.devicePath());
        assertEquals(List.of(v.devicePath() + " -> " + grown.devicePath() + " " + v.usableBytes()), copies);
        assertEquals("data of grow", dataOf(dm, v.id()));
        assertEquals(1, namespacesOf(v.id()).size(), "the old namespace is gone");
        assertEquals(List.of(), erased, "a volume without eraseafter keeps no promise to erase");
        assertEquals(List.of(grown), dm.listVolumes());
        assertEquals(grown, restarted().getVolume(v.id()).orElseThrow(), "the labels alone tell the grown volume");
        assertExact(dm);
    }

    @Test
    void theOldDataOfAnEraseAfterVolumeIsErasedBeforeItsSpaceIsFree() throws DeviceException {
        PmemVolume v = dm.createVolume(new VolumeRequest(VolumeIds.fromName("secret"), 100 * MIB, 0, VolumeMode.FSDAX,
                true, Map.of()));
        contents.put(v.devicePath(), "secret");
        PmemVolume grown = dm.expandVolume(v.id(), 200 * MIB, 0, false);
        assertEquals(List.of(v.devicePath()), erased);
        assertEquals("secret", contents.get(grown.devicePath()));
        assertTrue(grown.eraseAfter());
    }

    @Test
    void newSizeRoundsUpLikeACreate() throws DeviceException {
        PmemVolume v = volumeWithData("round", 100 * MIB, VolumeMode.FSDAX);
        PmemVolume grown = dm.expandVolume(v.id(), 200 * MIB + 1, 0, false);
        PmemVolume created = dm.createVolume(new VolumeRequest(VolumeIds.fromName("created"), 200 * MIB + 1, 0,
                VolumeMode.FSDAX, false, Map.of()));
        assertEquals(created.allocatedBytes(), grown.allocatedBytes());
        assertEquals(created.capacityBytes(), grown.capacityBytes());
    }

    @Test
    void aLimitIsRecordedAsTheNewCapacity() throws DeviceException {
        PmemVolume v = volumeWithData("limit", 100 * MIB, VolumeMode.FSDAX);
        PmemVolume grown = dm.expandVolume(v.id(), 200 * MIB, 200 * MIB, false);
        assertEquals(200 * MIB, grown.capacityBytes());
        assertEquals(200 * MIB, restarted().getVolume(v.id()).orElseThrow().capacityBytes());
    }

    @Test
    void growsAgainAndAgainThroughEveryGeneration() throws DeviceException {
        PmemVolume v = volumeWithData("often", 32 * MIB, VolumeMode.FSDAX);
        for (int i = 1; i <= VolumeNamespaces.GENERATIONS + 1; i++) {
            PmemVolume grown = dm.expandVolume(v.id(), v.capacityBytes() + i * 64 * MIB, 0, false);
            assertEquals(i % VolumeNamespaces.GENERATIONS,
                    naming.owner(namespacesOf(v.id()).get(0)).orElseThrow().generation());
            assertEquals("data of often", dataOf(restarted(), v.id()));
            assertTrue(grown.capacityBytes() >= v.capacityBytes() + i * 64 * MIB);
        }
        assertEquals(1, dm.listVolumes().size());
        assertExact(dm);
    }

    @Test
    void aVolumeOfTheEarlierUuidFormGrows() throws DeviceException {
        String id = VolumeIds.fromName("old-form");
        NamespaceInfo ns = backend.add("region0", id, naming.uuidFor(id, true), NamespaceMode.FSDAX, 64 * MIB, true);
        contents.put(Path.of("/dev", ns.blockDevice()), "old form");
        PmemVolume grown = dm.expandVolume(id, 128 * MIB, 0, false);
        assertTrue(grown.eraseAfter());
        assertEquals(1, naming.owner(namespacesOf(id).get(0)).orElseThrow().generation());
        assertEquals("old form", dataOf(restarted(), id));
    }

    @Test
    void aRequestWithinTheCapacityChangesNothing() throws DeviceException {
        PmemVolume v = volumeWithData("same", 100 * MIB, VolumeMode.FSDAX);
        assertEquals(v, dm.expandVolume(v.id(), v.capacityBytes(), 0, true));
        assertEquals(v, dm.expandVolume(v.id(), 10 * MIB, 0, false));
        assertEquals(v, dm.expandVolume(v.id(), 0, 0, false));
        assertTrue(copies.isEmpty());
    }

    @Test
    void aVolumeInUseIsRefusedAndStaysAsItIs() throws DeviceException {
        PmemVolume v = volumeWithData("used", 100 * MIB, VolumeMode.FSDAX);
        int calls = backend.calls.size();
        assertThrows(VolumeInUseException.class, () -> dm.expandVolume(v.id(), 200 * MIB, 0, true));
        assertTrue(backend.calls.subList(calls, backend.calls.size()).stream().noneMatch(c -> c.startsWith("create")));
        assertEquals(List.of(v), dm.listVolumes());
    }

    @Test
    void aDeviceMountedBehindTheCallersBackIsRefusedAndTheNewNamespaceGoes() throws DeviceException {
        PmemVolume v = volumeWithData("mounted", 100 * MIB, VolumeMode.FSDAX);
        busyDevices.add(v.devicePath());
        assertThrows(VolumeInUseException.class, () -> dm.expandVolume(v.id(), 200 * MIB, 0, false));
        assertEquals(List.of(v), dm.listVolumes());
        assertEquals(1, namespacesOf(v.id()).size());
        assertExact(dm);
    }

    @Test
    void aFailedCopyLeavesTheOldVolume() throws DeviceException {
        PmemVolume v = volumeWithData("ioerror", 100 * MIB, VolumeMode.FSDAX);
        copyFailure = new DeviceException("read error");
        assertThrows(DeviceException.class, () -> dm.expandVolume(v.id(), 200 * MIB, 0, false));
        assertEquals(List.of(v), dm.listVolumes());
        assertEquals(1, namespacesOf(v.id()).size());
        assertEquals("data of ioerror", dataOf(dm, v.id()));
    }

    @Test
    void anOldNamespaceThatCannotBeDestroyedStaysTheVolume() throws DeviceException {
        PmemVolume v = volumeWithData("reopened", 100 * MIB, VolumeMode.FSDAX);
        String oldDev = namespacesOf(v.id()).get(0).devname();
        backend.busy.add(oldDev);
        assertThrows(VolumeInUseException.class, () -> dm.expandVolume(v.id(), 200 * MIB, 0, false));
        assertEquals(List.of(v), dm.listVolumes());
        assertEquals(List.of(oldDev), namespacesOf(v.id()).stream().map(NamespaceInfo::devname).toList());
    }

    @Test
    void sizesNoRegionCanHoldAreOutOfRange() throws DeviceException {
        PmemVolume v = volumeWithData("huge", 100 * MIB, VolumeMode.FSDAX);
        assertThrows(OutOfRangeException.class, () -> dm.expandVolume(v.id(), 5 * GIB, 0, false));
        assertThrows(OutOfRangeException.class, () -> dm.expandVolume(v.id(), 300 * MIB, 200 * MIB, false));
        assertThrows(VolumeNotFoundException.class, () -> dm.expandVolume("missing", 300 * MIB, 0, false));
    }

    @Test
    void withoutRoomForTheNewNamespaceBesideTheOldOneItIsNoSpace() throws DeviceException {
        PmemVolume v = volumeWithData("full", 2 * GIB, VolumeMode.FSDAX);
        volumeWithData("filler", 3 * GIB, VolumeMode.FSDAX);
        // region0 holds the volume and 2 GiB free, region1 the filler and 1 GiB free: 3 GiB fits nowhere.
        assertThrows(NoSpaceException.class, () -> dm.expandVolume(v.id(), 3 * GIB, 0, false));
        assertEquals(2, dm.listVolumes().size());
        assertExact(dm);
    }

    @Test
    void movesToAnotherRegionWhenItsOwnHasNoRoom() throws DeviceException {
        PmemVolume v = volumeWithData("away", 2 * GIB, VolumeMode.FSDAX);
        PmemVolume grown = dm.expandVolume(v.id(), 3 * GIB, 0, false);
        assertNotEquals(v.region(), grown.region());
        assertEquals("data of away", dataOf(dm, v.id()));
        assertExact(dm);
    }

    // ---- crashes

    private PmemVolume crashAt(String step, PmemVolume v, long bytes) {
        dm.onMoveStep(s -> {
            if (s.equals(step)) {
                throw new Crash(s);
            }
        });
        assertThrows(Crash.class, () -> dm.expandVolume(v.id(), bytes, 0, false));
        return v;
    }

    @Test
    void crashAfterTheNewNamespaceIsMadeKeepsTheOldVolume() throws DeviceException {
        PmemVolume v = crashAt(NdctlDeviceManager.FAULT_MOVE_CREATED, volumeWithData("c1", 100 * MIB, VolumeMode.FSDAX),
                300 * MIB);
        assertEquals(2, namespacesOf(v.id()).size());
        // Before any start, a fresh process already sees the one old volume, complete.
        NdctlDeviceManager seen = manager();
        assertEquals(List.of(v), seen.listVolumes());
        assertTrue(seen.unmanagedExtents().stream().anyMatch(u -> u.reason().contains("growing by moving")));

        NdctlDeviceManager after = restarted();
        assertEquals(List.of(v), after.listVolumes());
        assertEquals(1, namespacesOf(v.id()).size(), "the unfinished copy is destroyed");
        assertEquals("data of c1", dataOf(after, v.id()));
        assertExact(after);
        // The move can be repeated.
        assertTrue(after.expandVolume(v.id(), 300 * MIB, 0, false).capacityBytes() >= 300 * MIB);
    }

    @Test
    void crashAfterTheCopyBeforeTheOldGoesKeepsTheOldVolume() throws DeviceException {
        PmemVolume v = crashAt(NdctlDeviceManager.FAULT_MOVE_COPIED, volumeWithData("c2", 100 * MIB, VolumeMode.FSDAX),
                300 * MIB);
        assertEquals(List.of(v), manager().listVolumes());
        NdctlDeviceManager after = restarted();
        assertEquals(List.of(v), after.listVolumes());
        assertEquals(1, namespacesOf(v.id()).size());
        assertEquals("data of c2", dataOf(after, v.id()));
        assertExact(after);
    }

    @Test
    void crashWhileTheOldIsDisabledFinishesTheMove() throws DeviceException {
        PmemVolume v = crashAt(NdctlDeviceManager.FAULT_MOVE_COPIED, volumeWithData("c3", 100 * MIB, VolumeMode.FSDAX),
                300 * MIB);
        // The destroy's first step: disable_safe, after which the process died.
        backend.disable(oldNamespace(v).devname());
        PmemVolume seen = manager().listVolumes().get(0);
        assertTrue(seen.capacityBytes() >= 300 * MIB, "the new namespace is the volume once the old stops serving");

        NdctlDeviceManager after = restarted();
        PmemVolume grown = after.getVolume(v.id()).orElseThrow();
        assertTrue(grown.capacityBytes() >= 300 * MIB);
        assertEquals(1, namespacesOf(v.id()).size(), "the old namespace is destroyed");
        assertEquals("data of c3", dataOf(after, v.id()));
        assertExact(after);
    }

    @Test
    void crashAfterTheOldInfoBlockIsWipedFinishesTheMove() throws Exception {
        PmemVolume v = crashAt(NdctlDeviceManager.FAULT_MOVE_COPIED,
                volumeWithData("c4", 100 * MIB, VolumeMode.FSDAX, true), 300 * MIB);
        // The destroy wiped the info block and the node rebooted: the old namespace comes back raw.
        NamespaceInfo old = oldNamespace(v);
        backend.disable(old.devname());
        backend.infoBlocks.remove(old.devname());
        backend.enable(old.region(), old.devname(), ns -> true);
        assertEquals(NamespaceMode.RAW, backend.namespace(old.devname()).mode());

        NdctlDeviceManager after = restarted();
        assertTrue(after.getVolume(v.id()).orElseThrow().capacityBytes() >= 300 * MIB);
        assertEquals(1, namespacesOf(v.id()).size(), "the raw old namespace is destroyed");
        assertEquals(List.of(v.devicePath()), erased, "and its data erased, as eraseafter promises");
        assertEquals("data of c4", dataOf(after, v.id()));
        assertExact(after);
    }

    @Test
    void crashWhenTheOldIsGoneLeavesTheGrownVolume() throws DeviceException {
        PmemVolume v = crashAt(NdctlDeviceManager.FAULT_MOVE_DONE, volumeWithData("c5", 100 * MIB, VolumeMode.FSDAX),
                300 * MIB);
        NdctlDeviceManager after = restarted();
        assertTrue(after.getVolume(v.id()).orElseThrow().capacityBytes() >= 300 * MIB);
        assertEquals("data of c5", dataOf(after, v.id()));
        assertExact(after);
    }

    @Test
    void aRebootDuringTheOldDestroyUndoesTheMoveWithTheOldComplete() throws Exception {
        PmemVolume v = crashAt(NdctlDeviceManager.FAULT_MOVE_COPIED, volumeWithData("c6", 100 * MIB, VolumeMode.FSDAX),
                300 * MIB);
        // Disabled, then the node rebooted: the kernel enables the old namespace again, info block intact.
        NamespaceInfo old = oldNamespace(v);
        backend.disable(old.devname());
        backend.enable(old.region(), old.devname(), ns -> true);
        NdctlDeviceManager after = restarted();
        assertEquals(List.of(v.capacityBytes()), after.listVolumes().stream().map(PmemVolume::capacityBytes).toList());
        assertEquals(List.of(old.devname()), namespacesOf(v.id()).stream().map(NamespaceInfo::devname).toList());
        assertEquals("data of c6", dataOf(after, v.id()));
    }

    @Test
    void deletingAVolumeWithAnUnfinishedMoveDestroysBothNamespaces() throws DeviceException {
        PmemVolume v = crashAt(NdctlDeviceManager.FAULT_MOVE_CREATED, volumeWithData("c7", 100 * MIB, VolumeMode.FSDAX),
                300 * MIB);
        NdctlDeviceManager other = manager();
        other.deleteVolume(v.id(), true);
        assertTrue(namespacesOf(v.id()).isEmpty());
        assertTrue(other.listVolumes().isEmpty());
        assertExact(other);
    }

    private NamespaceInfo oldNamespace(PmemVolume v) {
        return namespacesOf(v.id()).stream().filter(ns -> Path.of("/dev", ns.blockDevice()).equals(v.devicePath()))
                .findFirst().orElseThrow();
    }
}
