package dev.pmemcsi.device.emulated;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.VolumeMode;
import java.io.IOException;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ExtentLabelTest {

    private static final long MIB = 1L << 20;
    private static final long ALIGN = 16 * MIB;
    private static final long REGION = 1024 * MIB;

    private static VolumeRecord row(VolumeState state) {
        return new VolumeRecord("pvc-1-0123abcd", "region1", 64 * MIB, 48 * MIB, 46 * MIB, VolumeMode.FSDAX, true,
                Map.of("pod", "web-0"), state, false);
    }

    @Test
    void aLabelGivesBackTheRowAsReady() throws Exception {
        byte[] label = ExtentLabel.encode(row(VolumeState.CREATING));
        assertEquals(Optional.of(row(VolumeState.READY)), ExtentLabel.decode(label, "region1", 64 * MIB, REGION, ALIGN));
        // Trailing bytes (the rest of the metadata area) do not matter.
        byte[] padded = Arrays.copyOf(label, label.length + 4096);
        assertEquals(Optional.of(row(VolumeState.READY)), ExtentLabel.decode(padded, "region1", 64 * MIB, REGION, ALIGN));
    }

    @Test
    void zerosDataTornOrMisplacedLabelsAreNoLabel() throws Exception {
        byte[] label = ExtentLabel.encode(row(VolumeState.READY));
        assertTrue(ExtentLabel.decode(new byte[65536], "region1", 64 * MIB, REGION, ALIGN).isEmpty());
        byte[] flipped = label.clone();
        flipped[label.length - 3] ^= 1;
        assertTrue(ExtentLabel.decode(flipped, "region1", 64 * MIB, REGION, ALIGN).isEmpty(), "checksum");
        assertTrue(ExtentLabel.decode(Arrays.copyOf(label, label.length - 1), "region1", 64 * MIB, REGION, ALIGN).isEmpty(),
                "torn");
        // A label copied elsewhere (into a volume's data, or another region) describes another extent.
        assertTrue(ExtentLabel.decode(label, "region1", 80 * MIB, REGION, ALIGN).isEmpty(), "offset");
        assertTrue(ExtentLabel.decode(label, "region0", 64 * MIB, REGION, ALIGN).isEmpty(), "region");
        assertTrue(ExtentLabel.decode(label, "region1", 64 * MIB, 96 * MIB, ALIGN).isEmpty(), "beyond the region");
    }

    @Test
    void aLabelMustFitTheMetadataArea() {
        VolumeRecord tight = new VolumeRecord("v", "region0", 0, ALIGN, ALIGN - 64, VolumeMode.FSDAX, false, Map.of(),
                VolumeState.READY, false);
        assertThrows(IOException.class, () -> ExtentLabel.encode(tight));
    }
}
