package dev.pmemcsi.ndctl;

import java.util.Optional;

/**
 * What the kernel tells about one NVDIMM ({@code nmemN}).
 *
 * @param bus          the bus it sits on
 * @param devname      e.g. {@code nmem0}
 * @param handle       the platform's handle (NFIT device handle)
 * @param enabled      whether its driver is bound
 * @param smart        the SMART answer; empty when the DIMM does not support the command (emulated DIMMs)
 * @param failedFlags  the NFIT state flags: {@code save_fail}, {@code arm_fail}, {@code restore_fail},
 *                     {@code map_fail}, {@code flush_fail}, {@code smart_event} pending, as a bit set
 *                     in that order (bit 0 = save)
 */
public record DimmInfo(String bus, String devname, int handle, boolean enabled, Optional<SmartHealth> smart, int failedFlags) {

    public static final int FAILED_SAVE = 1;
    public static final int FAILED_ARM = 1 << 1;
    public static final int FAILED_RESTORE = 1 << 2;
    public static final int FAILED_MAP = 1 << 3;
    public static final int FAILED_FLUSH = 1 << 4;
    public static final int SMART_EVENT_PENDING = 1 << 5;
}
