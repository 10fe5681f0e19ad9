package dev.pmemcsi.driver;

import java.util.Map;
import java.util.Objects;

/**
 * Identity of this driver instance, shared by the CSI services.
 *
 * @param driverName         the CSI driver name, e.g. {@code pmem-csi.dev}
 * @param version            the driver's version, from the build
 * @param nodeId             the Kubernetes node this instance serves
 * @param maxVolumesPerNode  reported by NodeGetInfo; 0 means no limit
 */
public record DriverConfig(String driverName, String version, String nodeId, long maxVolumesPerNode) {

    public static final String DEFAULT_DRIVER_NAME = "pmem-csi.dev";

    public DriverConfig {
        Objects.requireNonNull(driverName, "driverName");
        Objects.requireNonNull(nodeId, "nodeId");
        if (driverName.isBlank() || nodeId.isBlank()) {
            throw new IllegalArgumentException("driver name and node ID must not be empty");
        }
    }

    /** The topology key: every volume is accessible only on the node that holds its PMEM. */
    public String topologyKey() {
        return driverName + "/node";
    }

    /** This node's topology segment. */
    public Map<String, String> topologySegment() {
        return Map.of(topologyKey(), nodeId);
    }
}
