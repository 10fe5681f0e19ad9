package dev.pmemcsi.pmemnative.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FilesystemsTest {

    @Test
    void ext4IsAlignedToTwoMegabytes() {
        assertEquals(List.of("mkfs.ext4", "-q", "-b", "4096", "-E", "stride=512,stripe_width=512", "/dev/pmem0"),
                Filesystems.mkfsArgv("ext4", Path.of("/dev/pmem0")));
    }

    @Test
    void xfsIsAlignedAndWithoutReflink() {
        assertEquals(List.of("mkfs.xfs", "-q", "-b", "size=4096", "-m", "reflink=0", "-d", "su=2m,sw=1", "/dev/pmem1"),
                Filesystems.mkfsArgv("xfs", Path.of("/dev/pmem1")));
    }

    @Test
    void aSizeBecomesABlockCountForExt4AndADataSizeForXfs() {
        long size = 256L << 20;
        assertEquals(List.of("mkfs.ext4", "-q", "-b", "4096", "-E", "stride=512,stripe_width=512", "/dev/pmem0", "65536"),
                Filesystems.mkfsArgv("ext4", Path.of("/dev/pmem0"), size));
        assertEquals(List.of("mkfs.xfs", "-q", "-b", "size=4096", "-m", "reflink=0", "-d", "su=2m,sw=1,size=545259520",
                "/dev/pmem1"), Filesystems.mkfsArgv("xfs", Path.of("/dev/pmem1"), 520L << 20));
        // Only whole blocks: a size that is not a multiple of 4 KiB is rounded down.
        assertEquals("65536", Filesystems.mkfsArgv("ext4", Path.of("/dev/pmem0"), size + 4095).get(7));
        assertEquals(Filesystems.mkfsArgv("ext4", Path.of("/dev/pmem0")), Filesystems.mkfsArgv("ext4", Path.of("/dev/pmem0"), 0));
        assertThrows(IllegalArgumentException.class, () -> Filesystems.mkfsArgv("ext4", Path.of("/dev/pmem0"), 4095));
    }

    @Test
    void otherFilesystemsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> Filesystems.mkfsArgv("btrfs", Path.of("/dev/pmem0")));
    }

    @Test
    void devicePathIsOneArgumentWhateverItHolds() {
        List<String> argv = Filesystems.mkfsArgv("ext4", Path.of("/dev/weird; rm -rf x"));
        assertEquals("/dev/weird; rm -rf x", argv.get(argv.size() - 1));
    }

    @Test
    void blkidExportOutputIsParsed() {
        FilesystemProbe.Content c = FilesystemProbe.parseExport(
                "DEVNAME=/dev/loop0\nUUID=a4b5\nBLOCK_SIZE=512\nTYPE=xfs\nUSAGE=filesystem\n");
        assertEquals("xfs", c.type().orElseThrow());
        assertFalse(c.isEmpty());
        assertEquals("a xfs signature", c.describe());
        FilesystemProbe.Content pt = FilesystemProbe.parseExport("DEVNAME=/dev/loop0\nPTUUID=x\nPTTYPE=gpt\n");
        assertFalse(pt.isEmpty(), "a partition table is content too");
        assertEquals("a gpt partition table", pt.describe());
        assertTrue(new FilesystemProbe.Content(Map.of()).isEmpty());
        assertEquals(List.of("blkid", "-p", "-o", "export", "/dev/loop0"), FilesystemProbe.argv(Path.of("/dev/loop0")));
    }

    @Test
    void deviceNumbersFollowTheKernelEncoding() {
        assertEquals(new DeviceNumber(7, 0), DeviceNumber.fromRdev(0x700L));
        assertEquals(new DeviceNumber(259, 3), DeviceNumber.fromRdev((259L & 0xfff) << 8 | 3));
        // minor 300 needs the high bits: (minor & 0xff) | ((minor & ~0xff) << 12)
        long rdev = (259L << 8) | (300L & 0xff) | ((300L & ~0xffL) << 12);
        assertEquals(new DeviceNumber(259, 300), DeviceNumber.fromRdev(rdev));
    }

    @Test
    void growCommandsNameTheSizeInWholeBlocks() {
        long size = 2L * 1024 * 1024 * 1024 + 4096 + 100;
        assertEquals(List.of("resize2fs", "/dev/pmem0", (2L * 1024 * 1024 + 4) + "K"),
                Filesystems.growArgv("ext4", Path.of("/dev/pmem0"), Path.of("/mnt/a"), size));
        assertEquals(List.of("xfs_growfs", "-D", Long.toString(512L * 1024 + 1), "/mnt/a"),
                Filesystems.growArgv("xfs", Path.of("/dev/pmem0"), Path.of("/mnt/a"), size));
        assertThrows(IllegalArgumentException.class,
                () -> Filesystems.growArgv("ext4", Path.of("/dev/pmem0"), Path.of("/mnt/a"), 4095));
        assertThrows(IllegalArgumentException.class,
                () -> Filesystems.growArgv("btrfs", Path.of("/dev/pmem0"), Path.of("/mnt/a"), size));
    }
}
