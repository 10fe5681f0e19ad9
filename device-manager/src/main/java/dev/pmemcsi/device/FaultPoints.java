package dev.pmemcsi.device;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Test-only: named steps inside the driver's multi-step operations where the process can be made
 * to die on the spot, so that tests can prove a restart repairs whatever a crash leaves behind.
 *
 * <p>Inert in production: a point fires only when the environment has
 * {@code PMEM_CSI_TEST_FAULTS=1} <em>and</em> the system property {@code pmem-csi.test.crash-at}
 * names that very point. Neither is set by the launcher, the image or the manifests. A fired point
 * halts the JVM with exit code {@value #EXIT_CODE}: no shutdown hook, no finally block, no flush,
 * like {@code kill -9} at that instruction.
 */
public final class FaultPoints {

    public static final String ENV = "PMEM_CSI_TEST_FAULTS";
    public static final String PROPERTY = "pmem-csi.test.crash-at";
    public static final int EXIT_CODE = 86;

    private static final Logger LOG = LoggerFactory.getLogger(FaultPoints.class);

    private FaultPoints() {}

    /** Halts the process if the test switch is on and names {@code point}; otherwise does nothing. */
    public static void reached(String point) {
        if (point.equals(System.getProperty(PROPERTY)) && "1".equals(System.getenv(ENV))) {
            LOG.error("test fault: crashing at {}", point);
            Runtime.getRuntime().halt(EXIT_CODE);
        }
    }
}
