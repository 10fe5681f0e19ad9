package dev.pmemcsi.pmemnative.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class MountOptionsTest {

    @Test
    void genericOptionsBecomeFlagsAndTheRestData() {
        MountOptions o = MountOptions.of(List.of("ro", "noatime", "nosuid", "dax", "data=ordered", "nodev"));
        assertEquals(MountOptions.MS_RDONLY | MountOptions.MS_NOATIME | MountOptions.MS_NOSUID | MountOptions.MS_NODEV,
                o.flags());
        assertEquals("dax,data=ordered", o.data());
        assertTrue(o.readOnly());
    }

    @Test
    void defaultsSetNothing() {
        MountOptions o = MountOptions.of(List.of("rw", "exec", "suid"));
        assertEquals(0, o.flags());
        assertEquals("", o.data());
        assertFalse(o.readOnly());
    }

    @Test
    void contradictionIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> MountOptions.of(List.of("ro", "rw")));
    }

    @Test
    void perMountFlagsExcludeRemountAndBind() {
        assertEquals(0, MountOptions.PER_MOUNT_FLAGS & (MountOptions.MS_REMOUNT | MountOptions.MS_BIND));
        assertEquals(MountOptions.MS_RDONLY | MountOptions.MS_LAZYTIME, MountOptions.of(List.of("ro")).withFlags(MountOptions.MS_LAZYTIME).flags());
    }
}
