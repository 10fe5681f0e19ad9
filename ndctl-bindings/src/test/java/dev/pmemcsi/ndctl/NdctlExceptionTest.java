package dev.pmemcsi.ndctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class NdctlExceptionTest {

    @Test
    void formatsCallObjectAndErrnoName() {
        NdctlException e = new NdctlException("ndctl_namespace_set_size", "namespace0.1", -28, null);
        assertEquals("ndctl_namespace_set_size(namespace0.1): ENOSPC (No space left on device)", e.getMessage());
        assertEquals(-28, e.errno());
        assertEquals("namespace0.1", e.object());
        assertFalse(e.isBusy());
    }

    @Test
    void positiveErrnoIsStoredNegative() {
        NdctlException e = new NdctlException("ndctl_namespace_disable_safe", "namespace0.0", 16, "the device is mounted or open");
        assertEquals(-16, e.errno());
        assertTrue(e.isBusy());
        assertEquals("ndctl_namespace_disable_safe(namespace0.0): EBUSY (Device or resource busy): the device is mounted or open", e.getMessage());
    }

    @Test
    void failedEnableWithEnxioPointsToTheKernelLog() {
        NdctlException e = NdctlException.enableFailed("ndctl_pfn_enable", "pfn0.1", -6);
        assertTrue(e.getMessage().startsWith("ndctl_pfn_enable(pfn0.1): ENXIO (No such device or address): "), e.getMessage());
        assertTrue(e.getMessage().contains("dmesg"), e.getMessage());
    }

    @Test
    void otherEnableFailuresCarryNoKernelLogHint() {
        NdctlException e = NdctlException.enableFailed("ndctl_btt_enable", "btt0.0", -16);
        assertEquals("ndctl_btt_enable(btt0.0): EBUSY (Device or resource busy)", e.getMessage());
    }

    @Test
    void unknownErrnoIsPrintedAsNumber() {
        assertEquals("errno 133", Errno.describe(-133));
    }
}
