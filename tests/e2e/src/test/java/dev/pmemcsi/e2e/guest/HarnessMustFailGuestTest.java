package dev.pmemcsi.e2e.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Fails on purpose. The harness runs it only in self-test mode, in the guest, and passes its
 * self-test only if it reports this failure and would exit non-zero for it: a harness that loses
 * failures would otherwise look exactly like a green run.
 */
class HarnessMustFailGuestTest {

    static final String MARKER = "deliberate failure for the harness self-test";

    @Test
    void failsInsideTheGuest() {
        // Fail for the right reason: only after proving the test really runs in the guest with NVDIMMs.
        assertTrue(Files.isDirectory(Path.of("/sys/bus/nd/devices")), "libnvdimm is not loaded here");
        assertEquals("no regions", "regions: " + Ndctl.regions(), MARKER);
    }
}
