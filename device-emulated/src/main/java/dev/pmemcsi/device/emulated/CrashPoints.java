package dev.pmemcsi.device.emulated;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Test-only: stops the JVM dead at a named step, so tests can check that start() repairs what a
 * crash leaves behind. Inert unless the environment has {@code PMEM_CSI_TEST_FAULTS=1} and the
 * system property {@code pmem-csi.test.crash-at} names the step.
 */
final class CrashPoints {

    static final String ENV = "PMEM_CSI_TEST_FAULTS";
    static final String PROPERTY = "pmem-csi.test.crash-at";

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

    private static final Logger LOG = LoggerFactory.getLogger(CrashPoints.class);

    private CrashPoints() {}

    static void reached(String point) {
        if ("1".equals(System.getenv(ENV)) && point.equals(System.getProperty(PROPERTY))) {
            LOG.error("test fault: crashing at {}", point);
            Runtime.getRuntime().halt(86);
        }
    }
}
