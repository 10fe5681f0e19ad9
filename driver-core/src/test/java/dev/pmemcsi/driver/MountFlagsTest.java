package dev.pmemcsi.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.csi.v1.VolumeCapability.AccessMode.Mode;
import java.util.List;
import org.junit.jupiter.api.Test;

class MountFlagsTest {

    private static VolumeCapability cap(String fs, String... flags) {
        return VolumeCapability.newBuilder()
                .setMount(VolumeCapability.MountVolume.newBuilder().setFsType(fs).addAllMountFlags(List.of(flags)))
                .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(Mode.SINGLE_NODE_WRITER)).build();
    }

    @Test
    void flagsTheFilesystemUnderstandsAreAccepted() {
        assertNull(MountFlags.problem("ext4", List.of("noatime", "nosuid", "data=ordered", "commit=30",
                "errors=remount-ro", "usrquota", "grpquota", "dax=never", "lazytime")));
        assertNull(MountFlags.problem("xfs", List.of("noatime", "nouuid", "prjquota", "usrquota", "discard",
                "dax=inode")));
        assertNull(MountFlags.problem("ext4", List.of("ro", "ro", "dax", "dax=always")), "repeats agree");
        assertNull(VolumeCapabilities.problem(cap("", "data=journal")), "ext4 is the default");
    }

    @Test
    void flagsOfTheOtherFilesystemAreRefused() {
        for (String flag : List.of("nouuid", "prjquota")) {
            assertEquals("mount flag \"" + flag + "\" is not supported by ext4", MountFlags.problem("ext4", List.of(flag)));
        }
        for (String flag : List.of("data=journal", "data=ordered", "errors=remount-ro", "commit=5", "barrier",
                "user_xattr", "acl", "norecovery")) {
            assertEquals("mount flag \"" + flag + "\" is not supported by xfs", MountFlags.problem("xfs", List.of(flag)));
        }
        assertEquals("mount flag \"nouuid\" is not supported by ext4", VolumeCapabilities.problem(cap("", "nouuid")));
    }

    @Test
    void errorsPanicIsRefusedEverywhere() {
        for (String fs : List.of("ext4", "xfs")) {
            assertTrue(MountFlags.problem(fs, List.of("errors=panic")).contains("halt the node"));
        }
    }

    @Test
    void contradictionsAreRefused() {
        for (List<String> flags : List.of(List.of("ro", "rw"), List.of("noatime", "strictatime"),
                List.of("dax", "dax=never"), List.of("data=ordered", "data=journal"), List.of("commit=5", "commit=6"),
                List.of("barrier", "nobarrier"), List.of("acl", "noacl"), List.of("quota", "noquota"))) {
            String p = MountFlags.problem("ext4", flags);
            assertNotNull(p, flags.toString());
            assertTrue(p.contains("contradict"), p);
        }
        assertTrue(MountFlags.problem("xfs", List.of("usrquota", "noquota")).contains("contradict"));
    }

    @Test
    void theControllerRefusesTheSameFlags() {
        InvalidRequestException e = assertThrows(InvalidRequestException.class,
                () -> VolumeCapabilities.validate(List.of(cap("xfs", "errors=panic"))));
        assertTrue(e.getMessage().contains("errors=panic"), e.getMessage());
        assertThrows(InvalidRequestException.class, () -> VolumeCapabilities.validate(cap("ext4", "ro", "rw")));
    }

    @Test
    void commasAndUnknownFlagsAreRefused() {
        assertTrue(MountFlags.problem("ext4", List.of("remount,exec")).contains("comma"));
        assertEquals("mount flag \"bind\" is not supported", MountFlags.problem("xfs", List.of("bind")));
    }
}
