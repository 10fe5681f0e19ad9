package dev.pmemcsi.controller;

import dev.pmemcsi.csi.v1.Topology;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.driver.DriverConfig;
import dev.pmemcsi.driver.VolumeParameters;

/**
 * The node this controller provisions on, as CSI sees it: every volume is accessible on this node
 * only, and a topology concerns this controller only when it names this node.
 */
final class LocalNode {

    private final DriverConfig config;

    LocalNode(DriverConfig config) {
        this.config = config;
    }

    String id() {
        return config.nodeId();
    }

    String topologyKey() {
        return config.topologyKey();
    }

    /** Whether {@code t} names this node. */
    boolean isNamedBy(Topology t) {
        return config.nodeId().equals(t.getSegmentsMap().get(config.topologyKey()));
    }

    /** The CSI description of a volume on this node. */
    dev.pmemcsi.csi.v1.Volume describe(PmemVolume v) {
        return dev.pmemcsi.csi.v1.Volume.newBuilder()
                .setVolumeId(v.id())
                .setCapacityBytes(v.capacityBytes())
                .putAllVolumeContext(VolumeParameters.contextOf(v))
                .addAccessibleTopology(Topology.newBuilder().putAllSegments(config.topologySegment()))
                .build();
    }
}
