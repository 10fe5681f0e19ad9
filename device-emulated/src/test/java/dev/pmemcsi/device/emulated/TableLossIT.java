package dev.pmemcsi.device.emulated;

import static dev.pmemcsi.device.emulated.EmulatedFixture.MIB;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.VolumeAccess;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.pmemnative.loop.LoopDevice;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * volumes.json lost or damaged: the table is rebuilt from the labels in the extents, with or
 * without the loop devices, and space of unknown content is never handed out. Needs root.
 */
class TableLossIT {

    private static final long REGION = 256 * MIB;

    @TempDir
    Path tmp;
    private EmulatedFixture fx;

    @BeforeEach
    void setUp() {
        fx = new EmulatedFixture(tmp.resolve("pmem"), List.of(REGION));
    }

    @AfterEach
    void clean() throws Exception {
        fx.verifyCleanAndClose();
    }

    private static VolumeRequest req(String id, long bytes, boolean eraseAfter, Map<String, String> attrs) {
        return new VolumeRequest(id, bytes, 0, VolumeMode.FSDAX, eraseAfter, attrs);
    }

    private Path table() {
        return fx.dir.resolve(EmulatedDeviceManager.TABLE_FILE);
    }

    /** Two volumes with data; the manager is closed, the loop devices stay. */
    private List<PmemVolume> twoVolumesWithData() throws Exception {
        EmulatedDeviceManager m = fx.started();
        PmemVolume a = m.createVolume(req("vol-a-" + "0123456789abcdef0123456789abcdef0123456789abcdef012345", 40 * MIB, false,
                Map.of("pod", "web-0")));
        // A limit below the extent and a recorded use: both must survive a rebuild from the labels.
        PmemVolume b = m.createVolume(new VolumeRequest("vol-b", 40 * MIB, 40 * MIB, VolumeMode.FSDAX, true, Map.of(),
                VolumeAccess.filesystem(VolumeAccess.XFS)));
        assertEquals(40 * MIB, b.capacityBytes());
        assertTrue(b.usableBytes() > b.capacityBytes(), "the extent is larger than the promised capacity");
        EmulatedFixture.write(a.devicePath(), 0, EmulatedFixture.pattern(1, (int) MIB));
        EmulatedFixture.write(b.devicePath(), 0, EmulatedFixture.pattern(2, (int) MIB));
        List<PmemVolume> before = m.listVolumes();
        m.close();
        return before;
    }

    private void assertDataIntact(EmulatedDeviceManager m) throws Exception {
        PmemVolume a = m.listVolumes().get(0);
        PmemVolume b = m.getVolume("vol-b").orElseThrow();
        assertArrayEquals(EmulatedFixture.pattern(1, (int) MIB), EmulatedFixture.read(a.devicePath(), 0, (int) MIB));
        assertArrayEquals(EmulatedFixture.pattern(2, (int) MIB), EmulatedFixture.read(b.devicePath(), 0, (int) MIB));
    }

    /** Whatever the rebuild says, a new volume must not see old data, nor overlap a kept one. */
    private void assertNewVolumeIsFresh(EmulatedDeviceManager m) throws Exception {
        long largest = m.capacity().regions().get(0).maxExtentBytes();
        PmemVolume c = m.createVolume(req("vol-c", CapacityMath.usableBytes(VolumeMode.FSDAX, largest), false, Map.of()));
        assertTrue(EmulatedFixture.allZero(c.devicePath(), 0, c.usableBytes()), "the new volume reads as zeros");
        m.deleteVolume("vol-c", false);
    }

    private void deleteAll(EmulatedDeviceManager m) throws Exception {
        for (PmemVolume v : m.listVolumes()) {
            m.deleteVolume(v.id(), false);
        }
    }

    @Test
    void aDeletedTableIsRebuiltAndTheLiveLoopDevicesAreKept() throws Exception {
        List<PmemVolume> before = twoVolumesWithData();
        Files.delete(table());
        EmulatedDeviceManager m = fx.started();
        assertEquals(before, m.listVolumes(), "every volume, with its ID, size, device, eraseAfter and attributes");
        assertEquals(2, fx.loopsOfDir().size());
        assertDataIntact(m);
        assertEquals(2, fx.table().size(), "the table is written again");
        assertNewVolumeIsFresh(m);
        deleteAll(m);
    }

    @Test
    void aDeletedTableAfterAReebootIsRebuiltFromTheRegionFilesAlone() throws Exception {
        List<PmemVolume> before = twoVolumesWithData();
        for (LoopDevice l : fx.loopsOfDir()) {
            fx.loops.detach(l, Duration.ofSeconds(10));
        }
        Files.delete(table());
        EmulatedDeviceManager m = fx.started();
        assertEquals(before.stream().map(PmemVolume::id).toList(), m.listVolumes().stream().map(PmemVolume::id).toList());
        assertEquals(before.stream().map(PmemVolume::attributes).toList(), m.listVolumes().stream().map(PmemVolume::attributes).toList());
        assertEquals(before.stream().map(PmemVolume::capacityBytes).toList(),
                m.listVolumes().stream().map(PmemVolume::capacityBytes).toList(), "capacities as promised, not the extents'");
        assertEquals(before.stream().map(PmemVolume::access).toList(), m.listVolumes().stream().map(PmemVolume::access).toList());
        assertDataIntact(m);
        assertNewVolumeIsFresh(m);
        deleteAll(m);
    }

    @Test
    void anUnreadableTableIsKeptAsideAndRebuilt() throws Exception {
        List<PmemVolume> before = twoVolumesWithData();
        Files.writeString(table(), "{\"version\": 1, \"volumes\": [ {\"id\": ");
        EmulatedDeviceManager m = fx.started();
        assertEquals(before, m.listVolumes());
        try (Stream<Path> files = Files.list(fx.dir)) {
            assertEquals(1, files.filter(p -> p.getFileName().toString().startsWith("volumes.json.unreadable-")).count());
        }
        deleteAll(m);
    }

    /**
     * Data no label accounts for (here: a volume whose label was damaged, after a reboot) stops the
     * start, untouched, until the operator consents to its erasure.
     */
    @Test
    void unaccountedDataStopsTheStartUntilTheOperatorConsentsToErasingIt() throws Exception {
        twoVolumesWithData();
        VolumeRecord b = fx.row("vol-b");
        for (LoopDevice l : fx.loopsOfDir()) {
            fx.loops.detach(l, Duration.ofSeconds(10));
        }
        Path region = fx.dir.resolve(b.region() + ".img");
        EmulatedFixture.write(region, b.offset(), new byte[4096]);
        Files.delete(table());

        DeviceException e = assertThrows(DeviceException.class, () -> fx.manager().start());
        assertTrue(e.getMessage().contains("no volume label accounts for") && e.getMessage().contains(
                EmulatedDeviceManager.ERASE_UNACCOUNTED_FILE), e.getMessage());
        assertFalse(Files.exists(table()), "nothing decided, nothing written");
        assertFalse(EmulatedFixture.allZero(region, b.offset(), b.rawBytes()), "the data is still there");
        assertEquals(List.of(), fx.loopsOfDir());

        Files.createFile(fx.dir.resolve(EmulatedDeviceManager.ERASE_UNACCOUNTED_FILE));
        EmulatedDeviceManager m = fx.started();
        assertEquals(1, m.listVolumes().size(), "the labelled volume is back");
        assertTrue(EmulatedFixture.allZero(region, b.offset(), b.rawBytes()), "the unaccounted data is erased");
        assertFalse(Files.exists(fx.dir.resolve(EmulatedDeviceManager.ERASE_UNACCOUNTED_FILE)), "the consent is used up");
        assertNewVolumeIsFresh(m);
        deleteAll(m);
    }
}
