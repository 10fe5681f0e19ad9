package dev.pmemcsi.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pmemcsi.csi.v1.NodeStageVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnstageVolumeRequest;
import dev.pmemcsi.csi.v1.VolumeCapability.AccessMode.Mode;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.InMemoryDeviceManager;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.VolumeAccess;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.pmemnative.CommandFailedException;
import dev.pmemcsi.pmemnative.mount.Filesystems;
import dev.pmemcsi.pmemnative.mount.FsStats;
import dev.pmemcsi.pmemnative.mount.MountInfo;
import dev.pmemcsi.pmemnative.mount.MountTable;
import dev.pmemcsi.pmemnative.mount.Mounter;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The filesystem a volume gets is the capacity it was created with, not its device, which is
 * whole allocation units and larger. Real loop devices of the device's size, real mkfs and mounts;
 * needs root.
 */
class FilesystemSizeIT {

    private static final long MIB = CapacityMath.MIB;

    @TempDir
    Path root;

    private InMemoryDeviceManager devices;
    private InProcessNode node;
    private final List<LoopDevice> loops = new ArrayList<>();

    @BeforeAll
    static void needsRoot() {
        assumeTrue("root".equals(System.getProperty("user.name")), "host integration tests need root");
    }

    @BeforeEach
    void setUp() throws Exception {
        devices = new InMemoryDeviceManager(new long[] {64 * CapacityMath.GIB});
        devices.start();
        Files.createDirectories(root.resolve("kubelet/pods"));
        node = new InProcessNode(devices, root.resolve("state"), root.resolve("kubelet"));
    }

    @AfterEach
    void noLeftovers() throws Exception {
        node.close();
        List<MountInfo> left = MountTable.read().under(root);
        for (int i = left.size() - 1; i >= 0; i--) {
            new Mounter().unmount(Path.of(left.get(i).mountPoint()));
        }
        for (LoopDevice l : loops) {
            l.close();
        }
        assertTrue(left.isEmpty(), "mounts left behind: " + left);
    }

    /** A volume as the device layer makes it, backed by a loop device of its whole device size. */
    private PmemVolume volume(String id, long required, long limit, VolumeAccess access) throws Exception {
        PmemVolume v = devices.createVolume(new VolumeRequest(id, required, limit, VolumeMode.FSDAX, false, Map.of(), access));
        LoopDevice loop = LoopDevice.create(root, id, v.usableBytes());
        loops.add(loop);
        devices.setDevice(id, loop.device, false);
        return devices.getVolume(id).orElseThrow();
    }

    private Path staging(String id) throws IOException {
        Path p = root.resolve("kubelet/plugins/kubernetes.io/csi/pmem-csi.dev/" + id + "/globalmount");
        Files.createDirectories(p);
        return p;
    }

    private void stage(String id, Path staging, String fs) {
        node.stub.nodeStageVolume(NodeStageVolumeRequest.newBuilder().setVolumeId(id)
                .setStagingTargetPath(staging.toString()).setVolumeCapability(NodeServiceIT.mount(fs, Mode.SINGLE_NODE_WRITER))
                .build());
    }

    private void unstage(String id, Path staging) {
        node.stub.nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(id)
                .setStagingTargetPath(staging.toString()).build());
    }

    /** The filesystem's size from its superblock: blocks × block size. */
    private static long superblockBytes(String fs, Path device, Path mountPoint) throws Exception {
        if (fs.equals("ext4")) {
            String sb = LoopDevice.run("dumpe2fs", "-h", device.toString());
            return 4096 * number(sb, "Block count:\\s+(\\d+)");
        }
        String info = LoopDevice.run("xfs_info", mountPoint.toString());
        return 4096 * number(info, "data\\s+=\\s+bsize=4096\\s+blocks=(\\d+)");
    }

    /** statfs total bytes of the driver's mkfs on a loop device of exactly {@code bytes}. */
    private long statfsOfAFilesystemOnADeviceOf(String fs, long bytes) throws Exception {
        try (LoopDevice control = LoopDevice.create(root, "control-" + fs, bytes)) {
            List<String> argv = new ArrayList<>(Filesystems.mkfsArgv(fs, control.device));
            argv.add(1, fs.equals("xfs") ? "-f" : "-F");
            LoopDevice.run(argv.toArray(String[]::new));
            Path dir = Files.createDirectories(root.resolve("control-mount"));
            LoopDevice.run("mount", "-t", fs, control.device.toString(), dir.toString());
            try {
                return FsStats.of(dir).totalBytes();
            } finally {
                LoopDevice.run("umount", dir.toString());
            }
        }
    }

    /** The filesystem type blkid finds on the device, empty when none. */
    private static String signature(Path device) throws Exception {
        try {
            return LoopDevice.run("blkid", "-p", "-o", "export", device.toString()).lines()
                    .filter(l -> l.startsWith("TYPE=")).map(l -> l.substring(5)).findFirst().orElse("");
        } catch (CommandFailedException e) {
            return ""; // blkid exits with 2 when it finds nothing
        }
    }

    private static long number(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        assertTrue(m.find(), regex + " in " + text);
        return Long.parseLong(m.group(1));
    }

    @ParameterizedTest(name = "{0}, {1} MiB")
    @CsvSource({"ext4, 256", "xfs, 520", "xfs, 600"})
    void aVolumeCreatedWithRequiredEqualToLimitMountsAFilesystemOfThatSize(String fs, long mib) throws Exception {
        long bytes = mib * MIB;
        String id = "size-" + fs + "-" + mib;
        PmemVolume v = volume(id, bytes, bytes, VolumeAccess.filesystem(fs));
        assertEquals(bytes, v.capacityBytes());
        assertTrue(v.usableBytes() > bytes, "the device is larger than the capacity: " + v);
        Path staging = staging(id);
        stage(id, staging, fs);

        assertEquals(bytes, superblockBytes(fs, v.devicePath(), staging), "the filesystem is exactly the capacity");
        long total = FsStats.of(staging).totalBytes();
        assertEquals(statfsOfAFilesystemOnADeviceOf(fs, bytes), total,
                "statfs shows what the same filesystem on a device of exactly the requested size shows");
        assertTrue(total <= bytes, total + " bytes");
        unstage(id, staging);

        // Staged again, the filesystem is used as it is.
        stage(id, staging, fs);
        assertEquals(bytes, superblockBytes(fs, v.devicePath(), staging));
        unstage(id, staging);
    }

    @Test
    void aVolumeCreatedForExt4StagedAsXfsIsAFailedPreconditionAndStaysUnformatted() throws Exception {
        String id = "made-for-ext4";
        PmemVolume v = volume(id, 110 * MIB, 0, VolumeAccess.filesystem("ext4"));
        Path staging = staging(id);
        Status s = assertThrows(StatusRuntimeException.class, () -> stage(id, staging, "xfs")).getStatus();
        assertEquals(Status.Code.FAILED_PRECONDITION, s.getCode(), s.toString());
        assertTrue(s.getDescription().contains("ext4") && s.getDescription().contains("xfs"), s.getDescription());
        assertEquals("", signature(v.devicePath()), "nothing was made on the device");
        stage(id, staging, "ext4");
        unstage(id, staging);
    }

    @Test
    void anUnrecordedVolumeTooSmallForXfsIsAFailedPreconditionNotAnMkfsFailure() throws Exception {
        // Volumes of earlier driver versions record no use: the size alone must stop mkfs.xfs.
        String id = "legacy-small";
        volume(id, 110 * MIB, 0, VolumeAccess.UNRECORDED);
        Path staging = staging(id);
        Status s = assertThrows(StatusRuntimeException.class, () -> stage(id, staging, "xfs")).getStatus();
        assertEquals(Status.Code.FAILED_PRECONDITION, s.getCode(), s.toString());
        assertTrue(s.getDescription().contains("xfs"), s.getDescription());
    }

    @Test
    void aFormattedVolumeStagedWithAnotherFilesystemIsAFailedPreconditionAndNotReformatted() throws Exception {
        String id = "legacy-ext4";
        PmemVolume v = volume(id, 600 * MIB, 0, VolumeAccess.UNRECORDED);
        Path staging = staging(id);
        stage(id, staging, "ext4");
        unstage(id, staging);
        Status s = assertThrows(StatusRuntimeException.class, () -> stage(id, staging, "xfs")).getStatus();
        assertEquals(Status.Code.FAILED_PRECONDITION, s.getCode(), s.toString());
        assertEquals("ext4", signature(v.devicePath()), "the ext4 filesystem is still there");
    }
}
