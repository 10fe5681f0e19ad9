package dev.pmemcsi.device.ndctl;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.pmemcsi.device.DeviceHealth;
import dev.pmemcsi.ndctl.DimmInfo;
import dev.pmemcsi.ndctl.SmartHealth;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class NdctlHealthTest {

    @Test
    void smartAnswersMapToHealthStates() {
        int all = SmartHealth.HEALTH_VALID | SmartHealth.SPARES_VALID | SmartHealth.USED_VALID | SmartHealth.TEMP_VALID;
        DeviceHealth.DimmHealth ok = NdctlHealth.dimmHealth(dimm(new SmartHealth(all, 0, 32.5, 100, 3), 0));
        assertEquals(new DeviceHealth.DimmHealth("nmem0", "ok", 100, 32.5, 3), ok);
        assertEquals("non-critical", NdctlHealth.dimmHealth(dimm(new SmartHealth(all, SmartHealth.NON_CRITICAL, 30, 50, 3), 0)).healthState());
        assertEquals("critical", NdctlHealth.dimmHealth(dimm(new SmartHealth(all, SmartHealth.CRITICAL | SmartHealth.NON_CRITICAL, 30, 5, 3), 0)).healthState());
        assertEquals("fatal", NdctlHealth.dimmHealth(dimm(new SmartHealth(all, SmartHealth.FATAL, 30, 0, 99), 0)).healthState());
        // Figures whose valid bit is clear are not reported.
        DeviceHealth.DimmHealth partial = NdctlHealth.dimmHealth(dimm(new SmartHealth(SmartHealth.HEALTH_VALID, 0, 99, 99, 99), 0));
        assertEquals(new DeviceHealth.DimmHealth("nmem0", "ok", -1, Double.NaN, -1), partial);
        // Platform failure flags override SMART.
        assertEquals("critical", NdctlHealth.dimmHealth(dimm(new SmartHealth(all, 0, 30, 100, 1), DimmInfo.FAILED_SAVE)).healthState());
        assertEquals("fatal", NdctlHealth.dimmHealth(dimm(null, DimmInfo.FAILED_MAP)).healthState());
    }

    private static DimmInfo dimm(SmartHealth smart, int failed) {
        return new DimmInfo("ndbus0", "nmem0", 1, true, Optional.ofNullable(smart), failed);
    }
}
