package dev.pmemcsi.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class VolumeIdsTest {

    private static final List<String> NAMES = List.of("pvc-1", "csi-4f1e0c", "eph", "e-p-h", "eph--x", "EPH",
            "", "---", "ünïcödé", "x".repeat(5000), VolumeIds.fromName("pvc-1"), VolumeIds.ephemeral("pvc-1"));

    @Test
    void ephemeralAndPersistentIdsNeverMeet() {
        for (String a : NAMES) {
            String eph = VolumeIds.ephemeral(a);
            assertTrue(VolumeIds.isValid(eph), eph);
            assertTrue(eph.length() <= VolumeIds.MAX_LENGTH, eph);
            assertTrue(VolumeIds.isEphemeral(eph), eph);
            assertEquals(eph, VolumeIds.ephemeral(a), "derived, so it survives restarts");
            for (String b : NAMES) {
                assertFalse(VolumeIds.isEphemeral(VolumeIds.fromName(b)), b);
                assertNotEquals(eph, VolumeIds.fromName(b), a + " / " + b);
            }
            assertNotEquals(eph, a, "kubelet's ID is not the device's");
        }
    }
}
