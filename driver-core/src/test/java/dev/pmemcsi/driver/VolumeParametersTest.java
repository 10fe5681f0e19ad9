package dev.pmemcsi.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.driver.VolumeParameters.Origin;
import java.util.Map;
import org.junit.jupiter.api.Test;

class VolumeParametersTest {

    @Test
    void defaultsAreFsdaxAndErase() throws Exception {
        VolumeParameters p = VolumeParameters.parse(Map.of(), Origin.STORAGE_CLASS);
        assertEquals(VolumeMode.FSDAX, p.mode());
        assertTrue(p.eraseAfter());
    }

    @Test
    void referenceParametersAreAccepted() throws Exception {
        VolumeParameters p = VolumeParameters.parse(Map.of("usage", "FileIO", "eraseafter", "false",
                "persistencyModel", "normal", "kataContainers", "false",
                "csi.storage.k8s.io/pvc/name", "x", "csi.storage.k8s.io/pv/name", "y"), Origin.STORAGE_CLASS);
        assertEquals(VolumeMode.SECTOR, p.mode());
        assertFalse(p.eraseAfter());
    }

    @Test
    void unknownKeyIsNamed() {
        InvalidRequestException e = assertThrows(InvalidRequestException.class,
                () -> VolumeParameters.parse(Map.of("fooBar", "1"), Origin.STORAGE_CLASS));
        assertTrue(e.getMessage().contains("fooBar"), e.getMessage());
    }

    @Test
    void kataIsNotSupportedYet() {
        InvalidRequestException e = assertThrows(InvalidRequestException.class,
                () -> VolumeParameters.parse(Map.of("kataContainers", "true"), Origin.STORAGE_CLASS));
        assertTrue(e.getMessage().contains("not supported yet"));
    }

    @Test
    void ephemeralNeedsSize() throws Exception {
        assertThrows(InvalidRequestException.class, () -> VolumeParameters.parse(Map.of(), Origin.EPHEMERAL_INLINE));
        assertThrows(InvalidRequestException.class,
                () -> VolumeParameters.parse(Map.of("size", "4Gi"), Origin.STORAGE_CLASS));
        assertThrows(InvalidRequestException.class,
                () -> VolumeParameters.parse(Map.of("size", "lots"), Origin.EPHEMERAL_INLINE));
        assertThrows(InvalidRequestException.class,
                () -> VolumeParameters.parse(Map.of("size", "0"), Origin.EPHEMERAL_INLINE));
        assertEquals(4L << 30, VolumeParameters.parse(Map.of("size", "4Gi",
                "csi.storage.k8s.io/ephemeral", "true"), Origin.EPHEMERAL_INLINE).sizeBytes());
    }
}
