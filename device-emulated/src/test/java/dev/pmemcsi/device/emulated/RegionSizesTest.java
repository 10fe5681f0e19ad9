package dev.pmemcsi.device.emulated;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class RegionSizesTest {

    private static final long MIB = 1L << 20;
    private static final long GIB = 1L << 30;

    @Test
    void regionListsAreCheckedAgainstTheAlignment() {
        assertEquals(List.of(4 * GIB, 4 * GIB), EmulatedDeviceManager.parseRegionSizes("4Gi,4Gi"));
        assertEquals(List.of(512 * MIB, 32 * MIB), EmulatedDeviceManager.parseRegionSizes("512Mi, 32Mi"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> EmulatedDeviceManager.parseRegionSizes("4Gi,100Mi"));
        assertTrue(e.getMessage().contains("region1"), e.getMessage());
        assertTrue(e.getMessage().contains("16Mi"), e.getMessage());
        assertTrue(e.getMessage().contains("96Mi or 112Mi"), e.getMessage());
        assertEquals(List.of(3 * MIB), EmulatedDeviceManager.parseRegionSizes("3Mi", MIB));
        assertThrows(IllegalArgumentException.class, () -> EmulatedDeviceManager.parseRegionSizes(""));
        assertThrows(IllegalArgumentException.class, () -> EmulatedDeviceManager.parseRegionSizes("4Gi,,4Gi"));
        assertThrows(IllegalArgumentException.class, () -> EmulatedDeviceManager.parseRegionSizes("0"));
    }

    @Test
    void constructorRefusesUnalignedRegions() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new EmulatedDeviceManager(java.nio.file.Path.of("/nonexistent"), List.of(GIB + MIB)));
        assertTrue(e.getMessage().contains("not a multiple"), e.getMessage());
    }
}
