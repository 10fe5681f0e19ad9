package dev.pmemcsi.ndctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jnr.constants.platform.Errno;
import org.junit.jupiter.api.Test;

class NdctlExceptionTest {

    @Test
    void formatsCallObjectAndErrnoName() {
        NdctlException e = new NdctlException("ndctl_namespace_set_size", "namespace0.1", 28, null);
        assertEquals("ndctl_namespace_set_size(namespace0.1): ENOSPC (No space left on device)", e.getMessage());
        assertEquals(28, e.errno());
        assertTrue(e.is(Errno.ENOSPC));
        assertEquals("namespace0.1", e.object());
        assertFalse(e.isBusy());
    }

    @Test
    void aLibndctlReturnCodeIsNegatedToThePositiveErrno() {
        NdctlException e = NdctlException.returned("ndctl_namespace_disable_safe", "namespace0.0", -16, "the device is mounted or open");
        assertEquals(16, e.errno());
        assertTrue(e.isBusy());
        assertEquals("ndctl_namespace_disable_safe(namespace0.0): EBUSY (Device or resource busy): the device is mounted or open", e.getMessage());
    }

    @Test
    void theTypedConstructorCarriesTheSameErrno() {
        NdctlException e = new NdctlException("ndctl_namespace_get_block_device", "namespace0.0", Errno.ENODEV, null);
        assertEquals(Errno.ENODEV.intValue(), e.errno());
        assertEquals("ndctl_namespace_get_block_device(namespace0.0): ENODEV (No such device)", e.getMessage());
    }

    @Test
    void aNegativeOrZeroErrnoIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> new NdctlException("ndctl_namespace_delete", "namespace0.0", -16, null));
        assertThrows(IllegalArgumentException.class, () -> new NdctlException("ndctl_namespace_delete", "namespace0.0", 0, null));
        assertThrows(IllegalArgumentException.class, () -> NdctlException.returned("ndctl_namespace_delete", "namespace0.0", 16, null));
    }

    @Test
    void failedEnableWithEnxioPointsToTheKernelLog() {
        NdctlException e = NdctlException.enableFailed("ndctl_pfn_enable", "pfn0.1", -6);
        assertTrue(e.getMessage().startsWith("ndctl_pfn_enable(pfn0.1): ENXIO (No such device or address): "), e.getMessage());
        assertTrue(e.getMessage().contains("dmesg"), e.getMessage());
        assertEquals(6, e.errno());
    }

    @Test
    void otherEnableFailuresCarryNoKernelLogHint() {
        NdctlException e = NdctlException.enableFailed("ndctl_btt_enable", "btt0.0", -16);
        assertEquals("ndctl_btt_enable(btt0.0): EBUSY (Device or resource busy)", e.getMessage());
    }

    @Test
    void unknownErrnoIsPrintedAsNumber() {
        // Above the kernel's largest errno (MAX_ERRNO is 4095), so no name can exist for it.
        NdctlException e = new NdctlException("ndctl_namespace_delete", "namespace0.0", 4095, null);
        assertEquals("ndctl_namespace_delete(namespace0.0): errno 4095", e.getMessage());
    }
}
