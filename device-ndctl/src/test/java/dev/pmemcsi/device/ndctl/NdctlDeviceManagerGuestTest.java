package dev.pmemcsi.device.ndctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.BlockDeviceEraser;
import dev.pmemcsi.device.Capacity;
import dev.pmemcsi.device.DeviceHealth;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.UnmanagedExtent;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.device.VolumeInUseException;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.ndctl.CreateStep;
import dev.pmemcsi.ndctl.NamespaceInfo;
import dev.pmemcsi.ndctl.RegionInfo;
import dev.pmemcsi.pmemnative.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.DisabledIfSystemProperty;

/**
 * The direct-mode device manager on emulated NVDIMMs (QEMU guest, two labelled regions).
 * Every test starts and ends with no allocated namespace.
 */
// Divides regions into namespaces: only the labelled VM shape can (docs/testing.md, E2E_SHAPE).
@DisabledIfSystemProperty(named = "pmemcsi.e2e.shape", matches = "labelless|e820")
class NdctlDeviceManagerGuestTest {

    private static final long MIB = 1024 * 1024;
    private static final String DRIVER = "guest-test.pmem-csi.dev";

    /** Stands for the process dying between two create steps: an Error is not rolled back. */
    static final class SimulatedCrash extends Error {
        private static final long serialVersionUID = 1L;

        SimulatedCrash(CreateStep step) {
            super("simulated crash after " + step);
        }
    }

    private NdctlDeviceManager dm;
    private long[] freeBefore;

    @BeforeEach
    void start() throws Exception {
        assertEquals(List.of(), allocated(), "the test needs empty regions");
        dm = new NdctlDeviceManager(DRIVER);
        dm.start();
        freeBefore = free();
    }

    @AfterEach
    void noLeaks() throws Exception {
        for (PmemVolume v : dm.listVolumes()) {
            dm.deleteVolume(v.id(), false);
        }
        dm.close();
        assertEquals(List.of(), allocated(), "no namespace may be left behind");
    }

    private static List<NamespaceInfo> allocated() throws Exception {
        return new LibNdctlBackend().regions().stream().flatMap(r -> r.namespaces().stream())
                .filter(NamespaceInfo::allocated).toList();
    }

    private static long[] free() throws Exception {
        return new LibNdctlBackend().regions().stream().mapToLong(RegionInfo::availableBytes).toArray();
    }

    private static VolumeRequest request(String name, long bytes, VolumeMode mode, boolean erase) {
        return new VolumeRequest(VolumeIds.fromName(name), bytes, 0, mode, erase, Map.of("usage", "test"));
    }

    @Test
    void createsRecoversAndDeletesVolumesOfBothModes() throws Exception {
        PmemVolume fsdax = dm.createVolume(request("pvc-fsdax", 200 * MIB, VolumeMode.FSDAX, true));
        PmemVolume sector = dm.createVolume(request("pvc-sector", 100 * MIB, VolumeMode.SECTOR, false));
        for (PmemVolume v : List.of(fsdax, sector)) {
            assertTrue(Files.exists(v.devicePath()), v.devicePath() + " exists");
            try (BlockDevice bd = BlockDevice.open(v.devicePath(), true)) {
                assertEquals(v.usableBytes(), bd.sizeBytes(), "reported usable size is the device size");
            }
        }
        assertTrue(fsdax.usableBytes() >= 200 * MIB);
        assertTrue(sector.usableBytes() >= 100 * MIB);
        assertTrue(fsdax.daxCapable());
        assertFalse(sector.daxCapable());
        assertEquals(Map.of("usage", "test"), fsdax.attributes());
        assertSame(VolumeMode.SECTOR, sector.mode());

        // A restarted driver finds both from the labels alone.
        try (NdctlDeviceManager restarted = new NdctlDeviceManager(DRIVER)) {
            restarted.start();
            List<PmemVolume> volumes = restarted.listVolumes();
            assertEquals(2, volumes.size());
            PmemVolume again = restarted.getVolume(fsdax.id()).orElseThrow();
            assertEquals(fsdax.devicePath(), again.devicePath());
            assertEquals(fsdax.usableBytes(), again.usableBytes());
            assertTrue(again.eraseAfter());
            assertFalse(restarted.getVolume(sector.id()).orElseThrow().eraseAfter());
            // Idempotent create through the restarted manager.
            assertEquals(again.devicePath(), restarted.createVolume(request("pvc-fsdax", 200 * MIB, VolumeMode.FSDAX, true)).devicePath());
            assertEquals(List.of(), restarted.unmanagedExtents());
        }

        Capacity c = dm.capacity();
        assertEquals(fsdax.allocatedBytes() + sector.allocatedBytes(), c.usedBytes());

        dm.deleteVolume(fsdax.id(), true);
        dm.deleteVolume(sector.id(), false);
        assertEquals(List.of(), dm.listVolumes());
        assertEquals(List.of(freeBefore[0], freeBefore[1]), List.of(free()[0], free()[1]));
    }

    @Test
    void eraseZeroesTheDataBeforeTheSpaceIsReused() throws Exception {
        // Destroying a namespace leaves its data on the media. A new namespace at the same place
        // never shows the old filesystem (its signatures are wiped), but without erase the bytes
        // further in are still there.
        PmemVolume a = dm.createVolume(request("pvc-data-a", 64 * MIB, VolumeMode.FSDAX, false));
        writeMarker(a, 0);
        writeMarker(a, DEEP);
        long place = resourceOf(a.id());
        dm.deleteVolume(a.id(), false);
        PmemVolume b = dm.createVolume(request("pvc-data-b", 64 * MIB, VolumeMode.FSDAX, true));
        assertEquals(place, resourceOf(b.id()), "the new namespace reuses the freed space");
        assertTrue(zeros(b, 0), "the signature area of a new volume is wiped");
        assertFalse(zeros(b, DEEP), "without erase the old data is still there");
        // With erase it is gone.
        writeMarker(b, 0);
        dm.deleteVolume(b.id(), true);
        PmemVolume c = dm.createVolume(request("pvc-data-c", 64 * MIB, VolumeMode.FSDAX, false));
        assertEquals(place, resourceOf(c.id()), "the new namespace reuses the freed space");
        assertTrue(zeros(c, 0) && zeros(c, DEEP), "erased data must read as zeros");
        dm.deleteVolume(c.id(), false);
    }

    /** Past the first MiB, which every new volume has wiped. */
    private static final long DEEP = 8 * MIB;

    private static long resourceOf(String volumeId) throws Exception {
        return new LibNdctlBackend().regions().stream().flatMap(r -> r.namespaces().stream())
                .filter(ns -> ns.allocated() && ns.altName().equals(volumeId)).mapToLong(NamespaceInfo::resource)
                .findFirst().orElse(-1L);
    }

    private static void writeMarker(PmemVolume v, long offset) throws IOException {
        try (FileChannel ch = FileChannel.open(v.devicePath(), StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap("marker".repeat(1000).getBytes(StandardCharsets.US_ASCII)), offset);
            ch.force(true);
        }
    }

    private static boolean zeros(PmemVolume v, long offset) throws Exception {
        try (BlockDevice bd = BlockDevice.open(v.devicePath(), true, true)) {
            return bd.isZero(offset, 8192);
        }
    }

    @Test
    void deleteOfAnOpenVolumeIsInUse() throws Exception {
        PmemVolume v = dm.createVolume(request("pvc-busy", 64 * MIB, VolumeMode.FSDAX, true));
        // An exclusive open is what a mount holds on the block device.
        try (BlockDevice held = BlockDevice.open(v.devicePath(), true)) {
            assertThrows(VolumeInUseException.class, () -> dm.deleteVolume(v.id(), false));
            assertThrows(VolumeInUseException.class, () -> dm.deleteVolume(v.id(), true));
        }
        assertTrue(dm.getVolume(v.id()).isPresent());
        dm.deleteVolume(v.id(), false);
        assertTrue(dm.getVolume(v.id()).isEmpty());
    }

    @Test
    void aCrashBetweenCreateStepsLeavesNothingAfterStart() throws Exception {
        for (CreateStep crashAfter : List.of(CreateStep.SET_SIZE, CreateStep.CLAIMED)) {
            NdctlDeviceManager crashing = new NdctlDeviceManager(DRIVER, new LibNdctlBackend((step, ns) -> {
                if (step == crashAfter) {
                    throw new SimulatedCrash(step);
                }
            }), new BlockDeviceEraser(BlockDeviceEraser.Method.ZEROOUT));
            crashing.start();
            VolumeRequest req = request("pvc-crash-" + crashAfter, 64 * MIB, VolumeMode.FSDAX, false);
            assertThrows(SimulatedCrash.class, () -> crashing.createVolume(req));
            List<NamespaceInfo> halfMade = allocated();
            assertEquals(1, halfMade.size(), "the crash left a half-made namespace: " + halfMade);
            assertFalse(halfMade.get(0).active());
            assertTrue(crashing.getVolume(req.volumeId()).isEmpty(), "a half-made namespace is no volume");
            List<UnmanagedExtent> reported = crashing.unmanagedExtents();
            assertEquals(1, reported.size());
            assertTrue(reported.get(0).reason().startsWith("unfinished namespace of volume"), reported.get(0).reason());

            // The restarted driver cleans up, and the same volume can be made again.
            NdctlDeviceManager restarted = new NdctlDeviceManager(DRIVER);
            restarted.start();
            assertEquals(List.of(), allocated());
            assertEquals(List.of(freeBefore[0], freeBefore[1]), List.of(free()[0], free()[1]));
            PmemVolume v = restarted.createVolume(req);
            assertTrue(Files.exists(v.devicePath()));
            restarted.deleteVolume(v.id(), false);
        }
        // A create that finds a half-made namespace of the same ID cleans it up itself.
        VolumeRequest req = request("pvc-crash-retry", 64 * MIB, VolumeMode.SECTOR, false);
        NdctlDeviceManager crashing = new NdctlDeviceManager(DRIVER, new LibNdctlBackend((step, ns) -> {
            if (step == CreateStep.CLAIMED) {
                throw new SimulatedCrash(step);
            }
        }), new BlockDeviceEraser(BlockDeviceEraser.Method.ZEROOUT));
        assertThrows(SimulatedCrash.class, () -> crashing.createVolume(req));
        PmemVolume v = dm.createVolume(req);
        assertEquals(1, allocated().size());
        dm.deleteVolume(v.id(), false);
    }

    @Test
    void aForeignNamespaceNamedLikeAVolumeIsNeverTouched() throws Exception {
        String id = VolumeIds.fromName("pvc-foreign");
        run("ndctl", "create-namespace", "--region=region1", "--mode=fsdax", "--size=32M", "--name=" + id);
        try {
            NdctlDeviceManager restarted = new NdctlDeviceManager(DRIVER);
            restarted.start();
            assertTrue(restarted.getVolume(id).isEmpty());
            assertEquals(List.of(), restarted.listVolumes());
            restarted.deleteVolume(id, true);
            List<NamespaceInfo> still = allocated();
            assertEquals(1, still.size());
            assertEquals(id, still.get(0).altName());
            assertTrue(still.get(0).active());
            List<UnmanagedExtent> reported = restarted.unmanagedExtents();
            assertEquals(1, reported.size());
            assertEquals("foreign namespace", reported.get(0).reason());
            assertEquals("region1", reported.get(0).region());
            // A volume with that ID is still possible: identity is name and UUID.
            PmemVolume v = restarted.createVolume(new VolumeRequest(id, 32 * MIB, 0, VolumeMode.FSDAX, false, Map.of()));
            assertEquals(2, allocated().size());
            assertFalse(v.devicePath().getFileName().toString().equals(still.get(0).blockDevice()));
            restarted.deleteVolume(id, false);
            assertEquals(1, allocated().size());
            assertTrue(allocated().get(0).active());
        } finally {
            for (NamespaceInfo ns : allocated()) {
                run("ndctl", "destroy-namespace", "--force", ns.devname());
            }
        }
    }

    @Test
    void healthOfEmulatedNvdimmsIsUnknownWithoutBadBlocks() throws Exception {
        PmemVolume v = dm.createVolume(request("pvc-health", 32 * MIB, VolumeMode.FSDAX, false));
        assertEquals("ok", dm.volumeHealth(v.id()).message());
        assertEquals(0, dm.volumeHealth(v.id()).badBlocks());
        DeviceHealth h = dm.deviceHealth();
        assertEquals(2, h.dimms().size());
        h.dimms().forEach(d -> assertEquals("unknown", d.healthState()));
        assertEquals(Map.of("region0", 0L, "region1", 0L), h.regionBadBlocks());
        dm.deleteVolume(v.id(), false);
    }

    static String run(String... argv) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int rc = p.waitFor();
        if (rc != 0) {
            throw new IOException(String.join(" ", argv) + " failed with " + rc + ": " + out);
        }
        return out;
    }
}
