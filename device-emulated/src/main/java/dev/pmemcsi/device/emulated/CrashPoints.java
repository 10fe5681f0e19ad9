package dev.pmemcsi.device.emulated;

import dev.pmemcsi.device.FaultPoints;

/**
 * Test-only: the emulated backend's named crash steps (see {@link FaultPoints}, which decides
 * whether one fires), so tests can check that start() repairs what a crash leaves behind.
 */
final class CrashPoints {

    static final String ENV = FaultPoints.ENV;
    static final String PROPERTY = FaultPoints.PROPERTY;

    /** After the CREATING row is durable, before the loop device exists. */
    static final String CREATE_RECORDED = "create.recorded";
    /** After the loop device is attached, before the row says READY. */
    static final String CREATE_ATTACHED = "create.attached";
    /** After the DELETING row is durable, before the loop device is detached. */
    static final String DELETE_RECORDED = "delete.recorded";
    /** After the loop device is gone, before the extent is zeroed. */
    static final String DELETE_DETACHED = "delete.detached";
    /** After the extent is zeroed, before the row is removed. */
    static final String DELETE_ERASED = "delete.erased";
    /** In the middle of zeroing an extent: after its first chunk, before the rest. */
    static final String ERASE_PARTIAL = "erase.partial";

    private CrashPoints() {}

    static void reached(String point) {
        FaultPoints.reached(point);
    }
}
