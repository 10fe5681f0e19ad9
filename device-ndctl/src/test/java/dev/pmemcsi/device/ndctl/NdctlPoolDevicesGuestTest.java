package dev.pmemcsi.device.ndctl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pmemcsi.device.NoSpaceException;
import dev.pmemcsi.device.PoolDevice;
import dev.pmemcsi.device.PoolDevices.Preparation;
import dev.pmemcsi.device.PoolDevices.SkippedRegion;
import dev.pmemcsi.device.VolumeAccess;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.device.ndctl.NdctlDeviceManagerGuestTest.SimulatedCrash;
import dev.pmemcsi.ndctl.CreateStep;
import dev.pmemcsi.ndctl.NamespaceInfo;
import dev.pmemcsi.ndctl.NamespaceMode;
import dev.pmemcsi.ndctl.NamespaceSpec;
import dev.pmemcsi.ndctl.RegionInfo;
import dev.pmemcsi.pmemnative.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * LVM mode's pool devices on the PMEM of the VM shape the harness booted ({@code -Dpmemcsi.e2e.shape}):
 * <ul>
 *   <li>{@code labelled} (the default, two 4 GiB NVDIMMs with labels): a named fsdax namespace of
 *       the percentage per region; interrupted creates and disabled pool namespaces recovered;
 *       regions with volumes or foreign namespaces skipped. Every test leaves the regions empty,
 *       as the other guest tests expect them.</li>
 *   <li>{@code labelless} (two 4 GiB NVDIMMs without labels) and {@code e820} (two 1 GiB
 *       {@code memmap=} ranges): direct mode refuses naming LVM mode; the one namespace of each
 *       region is reconfigured to fsdax whole, except on a region whose raw namespace holds a
 *       filesystem, which stays untouched; an interrupted reconfiguration is completed. These
 *       tests build on each other, in order; they leave the regions fsdax, which only these
 *       shapes' runs see.</li>
 * </ul>
 * Each shape proves that the pool devices take data and that a second preparation changes
 * nothing; the label-less shapes also mount ext4 on one with DAX (in the labelled shape the pool
 * device is an fsdax namespace like any other, and NodeDaxGuestTest proves DAX on those).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NdctlPoolDevicesGuestTest {

    private static final long MIB = 1024 * 1024;
    private static final String DRIVER = "guest-test.pmem-csi.dev";
    private static final String POOL = DRIVER + "-lvm";
    /** Small, so that creating and formatting costs little under TCG: 10% of 4 GiB gives 400 MiB. */
    private static final int PERCENTAGE = 10;
    private static final String SHAPE = System.getProperty("pmemcsi.e2e.shape", "labelled");
    private static final long STATX_ATTR_DAX = 0x200000L;
    private static final Pattern STATX_ATTRIBUTES = Pattern.compile("^stat\\.attributes = (0x[0-9a-fA-F]+)$",
            Pattern.MULTILINE);

    private static boolean labelled() {
        return SHAPE.equals("labelled");
    }

    private static String technology() {
        return SHAPE.equals("e820") ? "e820" : "nvdimm";
    }

    private static NdctlPoolDevices pool() {
        return new NdctlPoolDevices(DRIVER, new LibNdctlBackend(), PERCENTAGE);
    }

    private static List<RegionInfo> regions() throws Exception {
        return new LibNdctlBackend().regions();
    }

    // Each look opens a libndctl context and reads everything, about a second under TCG: look once, use often.

    private static List<NamespaceInfo> allocated() throws Exception {
        return allocated(regions());
    }

    private static List<NamespaceInfo> allocated(List<RegionInfo> regions) {
        return regions.stream().flatMap(r -> r.namespaces().stream()).filter(NamespaceInfo::allocated).toList();
    }

    private static NamespaceInfo namespaceOf(String region) throws Exception {
        return namespaceOf(regions(), region);
    }

    private static NamespaceInfo namespaceOf(List<RegionInfo> regions, String region) {
        return regions.stream().filter(r -> r.devname().equals(region)).flatMap(r -> r.namespaces().stream())
                .filter(NamespaceInfo::allocated).findFirst().orElseThrow();
    }

    // ---- labelled regions

    @AfterEach
    void emptyLabelledRegions() throws Exception {
        if (!labelled()) {
            return;
        }
        new LibNdctlBackend().destroy(ns -> ns.altName().equals(POOL) || ns.altName().startsWith("pool-guest-")
                || ns.altName().equals(VOLUME));
        assertEquals(List.of(), allocated(), "the labelled regions must be left empty");
    }

    private static final String VOLUME = VolumeIds.fromName("pool-guest-volume");

    /**
     * One pass, to spend few namespace creates under TCG: a create interrupted after the pfn
     * device claimed the namespace (the claim must be let go before the namespace can be enabled;
     * a crash right after set_size, without a claim, the unit tests cover), then the named
     * namespaces of the percentage, a second preparation, and a pool namespace an administrator
     * disabled. DAX on fsdax namespaces NodeDaxGuestTest proves in this shape.
     */
    @Test
    @Order(1)
    void labelledRegionsGetTheNamedNamespaceOfThePercentageAfterAnInterruptedCreate() throws Exception {
        assumeTrue(labelled(), "labelled NVDIMMs only");
        NdctlPoolDevices crashing = new NdctlPoolDevices(DRIVER, new LibNdctlBackend((step, ns) -> {
            if (step == CreateStep.CLAIMED) {
                throw new SimulatedCrash(step);
            }
        }), PERCENTAGE);
        assertThrows(SimulatedCrash.class, crashing::prepare);
        List<NamespaceInfo> half = allocated();
        assertEquals(1, half.size(), "the crash left one half-made namespace: " + half);
        assertFalse(half.get(0).active());

        Preparation p = pool().prepare();
        List<RegionInfo> regions = regions();
        assertEquals(List.of(), p.skipped());
        assertEquals(regions.size(), p.devices().size());
        regions.forEach(r -> assertTrue(r.labelled() && r.provider().equals(RegionInfo.NFIT), r.toString()));
        NamespaceInfo completed = namespaceOf(regions, half.get(0).region());
        assertEquals(half.get(0).devname(), completed.devname(), "completed in place, not made anew");
        assertEquals(half.get(0).uuid(), completed.uuid());
        for (PoolDevice d : p.devices()) {
            NamespaceInfo ns = namespaceOf(regions, d.region());
            assertEquals(POOL, ns.altName());
            assertEquals(NamespaceMode.FSDAX, ns.mode());
            // 10% of 4 GiB is 409.6 MiB, aligned down to the 16 MiB allocation unit.
            assertEquals(400 * MIB, ns.sizeBytes());
            assertEquals(2 * MIB, ns.align());
            assertWiped(d);
            assertUsable(d);
        }

        List<NamespaceInfo> before = allocated(regions);
        assertEquals(p, pool().prepare(), "a second preparation finds the same devices");
        assertEquals(before, allocated(), "and changes nothing");

        // An administrator disabled a pool namespace that holds data: it is brought back, not replaced.
        PoolDevice d = p.devices().get(0);
        byte[] marker = writeMarker(Path.of(d.devicePath()), 64 * MIB);
        NdctlDeviceManagerGuestTest.run("ndctl", "disable-namespace", namespaceOf(regions, d.region()).devname());
        assertFalse(namespaceOf(d.region()).active());
        assertEquals(p, pool().prepare());
        assertEquals(before, allocated());
        assertArrayEquals(marker, read(Path.of(d.devicePath()), 64 * MIB, marker.length), "the data is still there");
    }

    @Test
    @Order(2)
    void regionsWithVolumesOrForeignNamespacesAreSkippedUntouched() throws Exception {
        assumeTrue(labelled(), "labelled NVDIMMs only");
        LibNdctlBackend backend = new LibNdctlBackend();
        backend.create("region0", NamespaceSpec.of(NamespaceMode.FSDAX, 32 * MIB, VOLUME,
                new VolumeNamespaces(DRIVER).uuidFor(VOLUME, false, 0, VolumeAccess.UNRECORDED)), ns -> false);
        backend.create("region1", NamespaceSpec.of(NamespaceMode.FSDAX, 32 * MIB, "pool-guest-foreign",
                UUID.randomUUID()), ns -> false);
        List<NamespaceInfo> before = allocated();
        Preparation p = pool().prepare();
        assertEquals(List.of(), p.devices());
        assertEquals(List.of("region0", "region1"), p.skipped().stream().map(SkippedRegion::region).toList());
        assertTrue(p.skipped().get(0).reason().contains("direct-mode volumes"), p.skipped().get(0).reason());
        assertTrue(p.skipped().get(1).reason().contains("pool-guest-foreign"), p.skipped().get(1).reason());
        assertEquals(before, allocated());
    }

    // ---- label-less and e820 regions, in order

    @Test
    @Order(11)
    void directModeRefusesLabellessRegionsNamingLvmMode() throws Exception {
        assumeTrue(!labelled(), "label-less and e820 regions only");
        try (NdctlDeviceManager direct = new NdctlDeviceManager(DRIVER)) {
            direct.start();
            NoSpaceException e = assertThrows(NoSpaceException.class, () -> direct.createVolume(new VolumeRequest(
                    VolumeIds.fromName("pool-guest-direct"), 64 * MIB, 0, VolumeMode.FSDAX, false, Map.of())));
            assertTrue(e.getMessage().contains("--device-manager lvm"), e.getMessage());
            assertEquals(0, direct.capacity().maxVolumeBytes());
        }
        for (RegionInfo r : regions()) {
            assertFalse(r.labelled(), r.devname());
            assertEquals(SHAPE.equals("e820") ? "e820" : RegionInfo.NFIT, r.provider());
        }
    }

    @Test
    @Order(12)
    void theRegionWithAFilesystemIsSkippedAndTheOtherBecomesFsdax(@TempDir Path mnt) throws Exception {
        assumeTrue(!labelled(), "label-less and e820 regions only");
        List<RegionInfo> regions = regions();
        assertTrue(regions.size() >= 2, "two regions: " + regions);
        RegionInfo withData = regions.get(regions.size() - 1);
        NamespaceInfo raw = namespaceOf(withData.devname());
        Path dev = Path.of("/dev", raw.blockDevice());
        NdctlDeviceManagerGuestTest.run("mkfs.ext4", "-q", "-F", "-b", "4096", dev.toString());
        NdctlDeviceManagerGuestTest.run("mount", dev.toString(), mnt.toString());
        Files.writeString(mnt.resolve("keep.txt"), "data that must survive");
        NdctlDeviceManagerGuestTest.run("umount", mnt.toString());
        byte[] sumBefore = sha256(dev, 16 * MIB);

        // The bindings look at the raw device again before they write, and give the namespace back
        // as it was when the check refuses: enabled, in its mode, not forced raw.
        Optional<String> refusal = new LibNdctlBackend().reconfigureToFsdax(withData.devname(),
                raw.devname(), ns -> ns.devname().equals(raw.devname()), NamespaceInfo.NIL, 2 * MIB,
                new RawNamespaceContent());
        assertTrue(refusal.isPresent() && refusal.get().contains("ext4"), refusal.toString());
        assertEquals(raw, namespaceOf(withData.devname()), "given back as it was");

        Preparation p = pool().prepare();
        assertEquals(regions.size() - 1, p.devices().size(), p.toString());
        assertEquals(List.of(withData.devname()), p.skipped().stream().map(SkippedRegion::region).toList());
        assertTrue(p.skipped().get(0).reason().contains("ext4"), p.skipped().get(0).reason());
        NamespaceInfo after = namespaceOf(withData.devname());
        assertEquals(raw.mode(), after.mode(), "the namespace holding data keeps its mode");
        assertFalse(after.claimedByPfn());
        assertArrayEquals(sumBefore, sha256(dev, 16 * MIB), "not one byte of its first 16 MiB changed");
        NdctlDeviceManagerGuestTest.run("mount", "-o", "ro", dev.toString(), mnt.toString());
        try {
            assertEquals("data that must survive", Files.readString(mnt.resolve("keep.txt")));
        } finally {
            NdctlDeviceManagerGuestTest.run("umount", mnt.toString());
        }

        for (PoolDevice d : p.devices()) {
            NamespaceInfo ns = namespaceOf(d.region());
            assertEquals(NamespaceMode.FSDAX, ns.mode());
            assertTrue(ns.claimedByPfn(), "a pfn device with its page map on the PMEM");
            assertEquals(2 * MIB, ns.align(), "2 MiB, also on e820 where the default is 4 KiB");
            RegionInfo r = regions.stream().filter(x -> x.devname().equals(d.region())).findFirst().orElseThrow();
            assertEquals(r.sizeBytes(), ns.sizeBytes(), "the whole region, whatever the percentage");
            assertWiped(d);
            assertUsable(d);
        }
    }

    @Test
    @Order(13)
    void thePoolDeviceTakesExt4WithDaxAndASecondPreparationChangesNothing(@TempDir Path mnt) throws Exception {
        assumeTrue(!labelled(), "label-less and e820 regions only");
        Preparation p = pool().prepare();
        assertFalse(p.devices().isEmpty(), p.toString());
        PoolDevice d = p.devices().get(0);
        assertDaxExt4(d, mnt);
        List<NamespaceInfo> before = allocated();
        byte[] marker = writeMarker(Path.of(d.devicePath()), d.sizeBytes() - 64 * MIB);
        assertEquals(p, pool().prepare());
        assertEquals(before, allocated(), "no namespace changed");
        assertArrayEquals(marker, read(Path.of(d.devicePath()), d.sizeBytes() - 64 * MIB, marker.length));
        assertTrue(NdctlDeviceManagerGuestTest.run("blkid", "-p", d.devicePath()).contains("ext4"),
                "the filesystem on the pool device is still there");
    }

    @Test
    @Order(14)
    void anInterruptedReconfigurationIsCompleted() throws Exception {
        assumeTrue(!labelled(), "label-less and e820 regions only");
        RegionInfo last = regions().get(regions().size() - 1);
        NamespaceInfo raw = namespaceOf(last.devname());
        assertFalse(raw.claimedByPfn(), "the region with the filesystem is still unprepared");
        NdctlDeviceManagerGuestTest.run("wipefs", "-a", "/dev/" + raw.blockDevice());
        NdctlPoolDevices crashing = new NdctlPoolDevices(DRIVER, new LibNdctlBackend((step, ns) -> {
            if (step == CreateStep.CLAIMED) {
                throw new SimulatedCrash(step);
            }
        }), PERCENTAGE);
        assertThrows(SimulatedCrash.class, crashing::prepare);
        NamespaceInfo half = namespaceOf(last.devname());
        assertFalse(half.active(), "the crash left it disabled, claimed by a pfn device that is not enabled: " + half);

        Preparation p = pool().prepare();
        assertEquals(List.of(), p.skipped());
        assertEquals(regions().size(), p.devices().size());
        p.devices().forEach(NdctlPoolDevicesGuestTest::assertUsable);
        assertNotEquals(NamespaceInfo.NIL, namespaceOf(last.devname()).deviceUuid());
    }

    // ---- helpers

    private static void assertUsable(PoolDevice d) {
        assertEquals(technology(), d.technology());
        Path dev = Path.of(d.devicePath());
        try {
            assertEquals(d.sizeBytes(), BlockDevice.sizeOf(dev), "the reported size is the block device's");
            byte[] marker = writeMarker(dev, 0);
            assertArrayEquals(marker, read(dev, 0, marker.length), "what was written reads back");
        } catch (Exception e) {
            throw new AssertionError(d + ": " + e.getMessage(), e);
        }
    }

    /** A new pool device starts without any old signature. */
    private static void assertWiped(PoolDevice d) throws Exception {
        try (BlockDevice dev = BlockDevice.open(Path.of(d.devicePath()), true, true)) {
            assertTrue(dev.isZero(0, (int) MIB) && dev.isZero(d.sizeBytes() - MIB, (int) MIB),
                    d.devicePath() + ": first and last MiB zeroed");
        }
    }

    private static void assertDaxExt4(PoolDevice d, Path mnt) throws Exception {
        NdctlDeviceManagerGuestTest.run("mkfs.ext4", "-q", "-F", "-b", "4096", d.devicePath());
        NdctlDeviceManagerGuestTest.run("mount", "-o", "dax", d.devicePath(), mnt.toString());
        try {
            assertTrue(Files.readString(Path.of("/proc/mounts")).lines()
                    .anyMatch(l -> l.startsWith(d.devicePath() + " ") && l.contains("dax")), "mounted with DAX");
            Path file = mnt.resolve("dax-file");
            Files.write(file, new byte[4 * 1024 * 1024]);
            String statx = NdctlDeviceManagerGuestTest.run("xfs_io", "-c", "statx -r", file.toString());
            Matcher m = STATX_ATTRIBUTES.matcher(statx);
            assertTrue(m.find(), statx);
            assertTrue((Long.decode(m.group(1)) & STATX_ATTR_DAX) != 0, "STATX_ATTR_DAX: " + statx);
        } finally {
            NdctlDeviceManagerGuestTest.run("umount", mnt.toString());
        }
    }

    private static byte[] writeMarker(Path dev, long offset) throws IOException {
        byte[] marker = ("pool device marker at " + offset + " ").repeat(200).getBytes(StandardCharsets.US_ASCII);
        try (FileChannel ch = FileChannel.open(dev, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(marker), offset);
            ch.force(true);
        }
        return marker;
    }

    private static byte[] read(Path dev, long offset, int length) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(length);
        try (FileChannel ch = FileChannel.open(dev, StandardOpenOption.READ)) {
            while (buf.hasRemaining() && ch.read(buf, offset + buf.position()) > 0) {
                continue;
            }
        }
        return buf.array();
    }

    private static byte[] sha256(Path dev, long length) throws Exception {
        MessageDigest d = MessageDigest.getInstance("SHA-256");
        d.update(read(dev, 0, (int) length));
        return d.digest();
    }
}
