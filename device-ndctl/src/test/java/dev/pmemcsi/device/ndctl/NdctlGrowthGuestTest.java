package dev.pmemcsi.device.ndctl;

import static dev.pmemcsi.device.ndctl.NdctlDeviceManagerGuestTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.BlockDeviceEraser;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.VolumeAccess;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.device.VolumeInUseException;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.ndctl.NamespaceInfo;
import dev.pmemcsi.pmemnative.BlockDevice;
import dev.pmemcsi.pmemnative.mount.FileAttributes;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.DisabledIfSystemProperty;

/**
 * Direct-mode volumes grow by moving to a larger namespace (QEMU guest, labelled regions): a DAX
 * filesystem with data survives the move with its checksums, grows at its next mount, and stays
 * DAX; a crash at each step of a move leaves one complete volume after a restart. Prints how long
 * a move of 256 and 512 MiB takes (BENCH lines, for docs/performance.md).
 */
@DisabledIfSystemProperty(named = "pmemcsi.e2e.shape", matches = "labelless|e820")
class NdctlGrowthGuestTest {

    private static final long MIB = 1024 * 1024;
    private static final String DRIVER = "guest-test.pmem-csi.dev";

    /** Stands for the process dying at a step of a move: an Error is not rolled back. */
    static final class SimulatedCrash extends Error {
        private static final long serialVersionUID = 1L;

        SimulatedCrash(String step) {
            super("simulated crash at " + step);
        }
    }

    private NdctlDeviceManager dm;
    private Path work;

    @BeforeEach
    void start() throws Exception {
        assertEquals(List.of(), allocated(), "the test needs empty regions");
        dm = manager();
        dm.start();
        work = Files.createTempDirectory("ndctl-growth");
    }

    @AfterEach
    void noLeaks() throws Exception {
        NdctlDeviceManager cleaner = manager();
        cleaner.start();
        for (PmemVolume v : cleaner.listVolumes()) {
            cleaner.deleteVolume(v.id(), false);
        }
        assertEquals(List.of(), allocated(), "no namespace may be left behind");
    }

    private static NdctlDeviceManager manager() {
        return new NdctlDeviceManager(DRIVER, new LibNdctlBackend(), new BlockDeviceEraser(BlockDeviceEraser.Method.ZEROOUT),
                OperationListener.NONE, new DirectVolumeCopier());
    }

    private static List<NamespaceInfo> allocated() throws Exception {
        return new LibNdctlBackend().regions().stream().flatMap(r -> r.namespaces().stream())
                .filter(NamespaceInfo::allocated).toList();
    }

    @Test
    void daxFilesystemsKeepTheirDataThroughAMoveAndGrowAtTheirNextMount() throws Exception {
        for (String fs : List.of("ext4", "xfs")) {
            // mkfs.xfs wants 300 MiB at least.
            long size = fs.equals("xfs") ? 304 * MIB : 96 * MIB;
            PmemVolume v = dm.createVolume(new VolumeRequest(VolumeIds.fromName("pvc-grow-" + fs), size, 0,
                    VolumeMode.FSDAX, true, Map.of(), new VolumeAccess(fs, false)));
            Path mnt = Files.createDirectories(work.resolve("mnt-" + fs));
            run(fs.equals("ext4") ? new String[] {"mkfs.ext4", "-q", "-F", "-b", "4096", v.devicePath().toString()}
                    : new String[] {"mkfs.xfs", "-q", "-f", "-m", "reflink=0", v.devicePath().toString()});
            run("mount", "-o", "dax=always", v.devicePath().toString(), mnt.toString());
            String sum;
            long fsBefore;
            try {
                fsBefore = Files.getFileStore(mnt).getTotalSpace();
                sum = writeRandom(mnt.resolve("before.bin"), 16 * MIB);
                assertEquals(Optional.of(true), FileAttributes.of(mnt.resolve("before.bin")).dax(), fs + " file is DAX");
                // Mounted, though the caller claims otherwise: the exclusive open of the copy refuses.
                assertThrows(VolumeInUseException.class, () -> dm.expandVolume(v.id(), size + 128 * MIB, 0, false));
                assertThrows(VolumeInUseException.class, () -> dm.expandVolume(v.id(), size + 128 * MIB, 0, true));
                assertEquals(List.of(v.devicePath()), dm.listVolumes().stream().map(PmemVolume::devicePath).toList());
            } finally {
                run("umount", mnt.toString());
            }
            assertEquals(1, allocated().size(), "a refused move leaves no namespace behind");

            PmemVolume grown = dm.expandVolume(v.id(), size + 128 * MIB, 0, false);
            assertEquals(v.id(), grown.id());
            assertTrue(grown.capacityBytes() >= size + 128 * MIB, "capacity " + grown.capacityBytes());
            assertNotEquals(v.devicePath(), grown.devicePath(), "the volume moved to a new namespace");
            assertEquals(1, allocated().size(), "the old namespace is gone");
            try (BlockDevice dev = BlockDevice.open(grown.devicePath(), true)) {
                assertEquals(grown.usableBytes(), dev.sizeBytes());
            }
            run("mount", "-o", "dax=always", grown.devicePath().toString(), mnt.toString());
            try {
                assertEquals(sum, sha256(mnt.resolve("before.bin")), fs + ": data survives the move");
                assertEquals(fsBefore, Files.getFileStore(mnt).getTotalSpace(), "mounting does not grow the filesystem");
                run(fs.equals("ext4") ? new String[] {"resize2fs", grown.devicePath().toString()}
                        : new String[] {"xfs_growfs", mnt.toString()});
                long fsAfter = Files.getFileStore(mnt).getTotalSpace();
                // statfs leaves out the metadata of the new space (ext4: about 5 MiB of 128).
                assertTrue(fsAfter >= fsBefore + 100 * MIB, fs + " grew from " + fsBefore + " to " + fsAfter);
                String sum2 = writeRandom(mnt.resolve("after.bin"), 64 * MIB);
                assertEquals(Optional.of(true), FileAttributes.of(mnt.resolve("before.bin")).dax(), "old file still DAX");
                assertEquals(Optional.of(true), FileAttributes.of(mnt.resolve("after.bin")).dax(), "new file DAX");
                assertEquals(sum, sha256(mnt.resolve("before.bin")));
                assertEquals(sum2, sha256(mnt.resolve("after.bin")));
            } finally {
                run("umount", mnt.toString());
            }
            run(fs.equals("ext4") ? new String[] {"e2fsck", "-f", "-n", grown.devicePath().toString()}
                    : new String[] {"xfs_repair", "-n", grown.devicePath().toString()});

            NdctlDeviceManager restarted = manager();
            restarted.start();
            PmemVolume again = restarted.getVolume(v.id()).orElseThrow();
            assertEquals(grown.devicePath(), again.devicePath());
            assertEquals(grown.capacityBytes(), again.capacityBytes());
            assertEquals(new VolumeAccess(fs, false), again.access());
            assertEquals(List.of(), restarted.unmanagedExtents());
            dm.deleteVolume(v.id(), true);
        }
    }

    @Test
    void aCrashAtEveryStepOfAMoveLeavesOneCompleteVolume() throws Exception {
        for (String step : List.of(NdctlDeviceManager.FAULT_MOVE_CREATED, NdctlDeviceManager.FAULT_MOVE_COPIED,
                NdctlDeviceManager.FAULT_MOVE_DONE)) {
            PmemVolume v = dm.createVolume(new VolumeRequest(VolumeIds.fromName("pvc-crash"), 64 * MIB, 0,
                    VolumeMode.FSDAX, false, Map.of()));
            byte[] marker = ("marker of " + step).getBytes(java.nio.charset.StandardCharsets.UTF_8);
            writeAt(v.devicePath(), 40 * MIB, marker);
            NdctlDeviceManager crashing = manager();
            crashing.start();
            crashing.onMoveStep(s -> {
                if (s.equals(step)) {
                    throw new SimulatedCrash(s);
                }
            });
            assertThrows(SimulatedCrash.class, () -> crashing.expandVolume(v.id(), 160 * MIB, 0, false));

            NdctlDeviceManager restarted = manager();
            restarted.start();
            List<PmemVolume> volumes = restarted.listVolumes();
            assertEquals(1, volumes.size(), step + ": one volume " + volumes);
            assertEquals(1, allocated().size(), step + ": one namespace " + allocated());
            PmemVolume after = volumes.get(0);
            boolean moved = step.equals(NdctlDeviceManager.FAULT_MOVE_DONE);
            assertEquals(moved, after.capacityBytes() >= 160 * MIB, step + ": capacity " + after.capacityBytes());
            assertEquals(moved, !after.devicePath().equals(v.devicePath()), step);
            assertEquals(new String(marker), new String(readAt(after.devicePath(), 40 * MIB, marker.length)),
                    step + ": the data is complete");
            restarted.deleteVolume(v.id(), false);
        }
    }

    /**
     * The time of a move against its floor: {@code dd} with direct I/O of the same bytes between
     * two namespaces, the copy alone.
     */
    @Test
    void moveTimes() throws Exception {
        for (long size : new long[] {256 * MIB, 512 * MIB}) {
            PmemVolume v = dm.createVolume(new VolumeRequest(VolumeIds.fromName("pvc-time-" + (size / MIB)), size, 0,
                    VolumeMode.FSDAX, false, Map.of()));
            PmemVolume floorTarget = dm.createVolume(new VolumeRequest(VolumeIds.fromName("pvc-floor-" + (size / MIB)),
                    size, 0, VolumeMode.FSDAX, false, Map.of()));
            long d0 = System.nanoTime();
            run("dd", "if=" + v.devicePath(), "of=" + floorTarget.devicePath(), "bs=8M", "iflag=direct", "oflag=direct",
                    "count=" + v.usableBytes() / (8 * MIB), "status=none");
            run("sync");
            long floor = System.nanoTime() - d0;
            dm.deleteVolume(floorTarget.id(), false);
            Map<String, Long> at = new LinkedHashMap<>();
            dm.onMoveStep(s -> at.put(s, System.nanoTime()));
            long t0 = System.nanoTime();
            PmemVolume grown = dm.expandVolume(v.id(), size + 64 * MIB, 0, false);
            long t1 = System.nanoTime();
            long create = at.get(NdctlDeviceManager.FAULT_MOVE_CREATED) - t0;
            long copy = at.get(NdctlDeviceManager.FAULT_MOVE_COPIED) - at.get(NdctlDeviceManager.FAULT_MOVE_CREATED);
            long destroy = at.get(NdctlDeviceManager.FAULT_MOVE_DONE) - at.get(NdctlDeviceManager.FAULT_MOVE_COPIED);
            System.out.printf("BENCH ndctl-move %d MiB -> %d MiB: total %d ms (create %d ms, copy of %d MiB %d ms"
                            + " = %d MiB/s, destroy %d ms) | dd of %d MiB with direct I/O %d ms%n", size / MIB,
                    grown.capacityBytes() / MIB, (t1 - t0) / 1_000_000, create / 1_000_000, v.usableBytes() / MIB,
                    copy / 1_000_000, v.usableBytes() / MIB * 1_000_000_000L / Math.max(1, copy), destroy / 1_000_000,
                    v.usableBytes() / (8 * MIB) * 8, floor / 1_000_000);
            dm.onMoveStep(s -> { });
            dm.deleteVolume(v.id(), false);
        }
    }

    private static void writeAt(Path device, long offset, byte[] data) throws Exception {
        try (FileChannel ch = FileChannel.open(device, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(data), offset);
            ch.force(true);
        }
    }

    private static byte[] readAt(Path device, long offset, int length) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(length);
        try (FileChannel ch = FileChannel.open(device, StandardOpenOption.READ)) {
            while (b.hasRemaining() && ch.read(b, offset + b.position()) >= 0) {
                // reads until full
            }
        }
        return b.array();
    }

    private static String writeRandom(Path file, long bytes) throws Exception {
        byte[] chunk = new byte[(int) MIB];
        Random random = new Random(bytes);
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (long done = 0; done < bytes; done += chunk.length) {
                random.nextBytes(chunk);
                md.update(chunk);
                ch.write(ByteBuffer.wrap(chunk));
            }
            ch.force(true);
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static String sha256(Path file) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        md.update(Files.readAllBytes(file));
        return HexFormat.of().formatHex(md.digest());
    }
}
