package dev.pmemcsi.pmemnative.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class MountInfoTest {

    private static final String TABLE = String.join("\n",
            "22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw,errors=remount-ro",
            "41 22 259:3 / /var/lib/kubelet/plugins/kubernetes.io/csi/pmem-csi.dev/abc/globalmount rw,relatime shared:30 - ext4 /dev/pmem0 rw,dax=always",
            "42 22 259:3 / /var/lib/kubelet/pods/u1/volumes/kubernetes.io~csi/pvc\\040one/mount ro,relatime shared:30 - ext4 /dev/pmem0 rw,dax=always",
            "43 22 7:0 / /mnt/x rw,relatime - xfs /dev/loop0 rw,dax=never,inode64,sunit=4096,swidth=4096,noquota",
            "44 22 0:5 /loop3 /tmp/pod/block rw,nosuid master:2 - devtmpfs udev rw,size=10240k",
            "45 43 7:1 / /mnt/x rw - ext4 /dev/loop1 rw,dax",
            "46 22 7:2 / /tmp/a\\011b\\012c\\134d rw - ext4 /dev/loop2 rw",
            "");

    @Test
    void parsesFieldsAndOptionalTags() {
        MountInfo m = MountInfo.parse("41 22 259:3 / /stage rw,relatime shared:30 master:4 - ext4 /dev/pmem0 rw,dax=always");
        assertEquals(41, m.mountId());
        assertEquals(22, m.parentId());
        assertEquals(259, m.major());
        assertEquals(3, m.minor());
        assertEquals("/", m.root());
        assertEquals("/stage", m.mountPoint());
        assertEquals(List.of("rw", "relatime"), m.mountOptions());
        assertEquals(List.of("shared:30", "master:4"), m.optionalFields());
        assertEquals("ext4", m.fsType());
        assertEquals("/dev/pmem0", m.source());
        assertEquals(List.of("rw", "dax=always"), m.superOptions());
    }

    @Test
    void parsesLineWithoutOptionalFields() {
        MountInfo m = MountInfo.parse("45 43 7:1 / /mnt/x rw - ext4 /dev/loop1 rw,dax");
        assertTrue(m.optionalFields().isEmpty());
        assertEquals("ext4", m.fsType());
    }

    @Test
    void decodesOctalEscapesInPaths() {
        MountTable t = MountTable.parse(TABLE);
        assertTrue(t.isMountPoint(Path.of("/var/lib/kubelet/pods/u1/volumes/kubernetes.io~csi/pvc one/mount")));
        assertTrue(t.isMountPoint(Path.of("/tmp/a\tb\nc\\d")));
        assertEquals("a\\x", MountInfo.unescape("a\\x"), "a backslash without three octal digits stays");
        assertEquals("\\04", MountInfo.unescape("\\04"));
    }

    @Test
    void daxIsRecognisedOnlyWhenAlways() {
        MountTable t = MountTable.parse(TABLE);
        assertTrue(t.top(Path.of("/var/lib/kubelet/plugins/kubernetes.io/csi/pmem-csi.dev/abc/globalmount")).orElseThrow().daxAlways());
        assertFalse(t.at(Path.of("/mnt/x")).get(0).daxAlways(), "xfs that turned DAX off says dax=never");
        assertTrue(t.top(Path.of("/mnt/x")).orElseThrow().daxAlways(), "old-style ext4 says dax");
        assertFalse(t.top(Path.of("/")).orElseThrow().daxAlways());
    }

    @Test
    void stackedMountsAreListedBottomFirst() {
        MountTable t = MountTable.parse(TABLE);
        assertEquals(2, t.at(Path.of("/mnt/x")).size());
        assertEquals(45, t.top(Path.of("/mnt/x")).orElseThrow().mountId());
        assertEquals(List.of(41, 42), t.ofDevice(259, 3).stream().map(MountInfo::mountId).toList());
        assertTrue(t.top(Path.of("/mnt")).isEmpty());
        assertEquals(2, t.under(Path.of("/mnt")).size());
    }

    @Test
    void readOnlyPerMountOrPerSuperblock() {
        MountTable t = MountTable.parse(TABLE);
        assertTrue(t.top(Path.of("/var/lib/kubelet/pods/u1/volumes/kubernetes.io~csi/pvc one/mount")).orElseThrow().readOnly());
        assertFalse(t.top(Path.of("/")).orElseThrow().readOnly());
        assertEquals("/loop3", t.top(Path.of("/tmp/pod/block")).orElseThrow().root());
    }

    @Test
    void rejectsMalformedLines() {
        assertThrows(IllegalArgumentException.class, () -> MountInfo.parse("41 22 259:3 / /stage rw"));
        assertThrows(IllegalArgumentException.class, () -> MountInfo.parse("x 22 259:3 / /s rw - ext4 /dev/a rw"));
        assertThrows(IllegalArgumentException.class, () -> MountInfo.parse("1 22 2593 / /s rw - ext4 /dev/a rw"));
    }

    @Test
    void readsTheLiveTable() throws Exception {
        MountTable t = MountTable.read();
        assertTrue(t.isMountPoint(Path.of("/")) || !t.mounts().isEmpty());
    }
}
