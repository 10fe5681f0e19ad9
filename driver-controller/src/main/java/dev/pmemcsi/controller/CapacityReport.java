package dev.pmemcsi.controller;

import com.google.protobuf.Int64Value;
import dev.pmemcsi.csi.v1.GetCapacityRequest;
import dev.pmemcsi.csi.v1.GetCapacityResponse;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.device.Capacity;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.driver.InvalidRequestException;
import dev.pmemcsi.driver.VolumeCapabilities;
import dev.pmemcsi.driver.VolumeParameters;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * GetCapacity: what the scheduler learns about this node's free PMEM, in usable bytes of the
 * requested mode. Other nodes' segments get 0: their PMEM is theirs to report. So do capabilities
 * no volume here can have: no storage satisfies them.
 */
final class CapacityReport {

    private static final Logger LOG = LoggerFactory.getLogger(CapacityReport.class);

    private final LocalNode node;
    private final DeviceManager devices;

    CapacityReport(LocalNode node, DeviceManager devices) {
        this.node = node;
        this.devices = devices;
    }

    GetCapacityResponse capacity(GetCapacityRequest req) throws InvalidRequestException, DeviceException {
        VolumeParameters params = VolumeParameters.parse(req.getParametersMap(), VolumeParameters.Origin.STORAGE_CLASS);
        for (VolumeCapability cap : req.getVolumeCapabilitiesList()) {
            if (!cap.hasAccessMode() || cap.getAccessTypeCase() == VolumeCapability.AccessTypeCase.ACCESSTYPE_NOT_SET) {
                throw new InvalidRequestException("volume capability needs an access_mode and a mount or block access type");
            }
        }
        if (req.hasAccessibleTopology() && req.getAccessibleTopology().getSegmentsCount() > 0
                && !node.isNamedBy(req.getAccessibleTopology())) {
            LOG.debug("topology {} is not this node's", req.getAccessibleTopology().getSegmentsMap());
            return zero();
        }
        for (VolumeCapability cap : req.getVolumeCapabilitiesList()) {
            String problem = VolumeCapabilities.problem(cap);
            if (problem != null) {
                LOG.debug("no capacity for an unsupported capability: {}", problem);
                return zero();
            }
        }
        Capacity.Requestable r = devices.capacity().requestable(params.mode());
        return GetCapacityResponse.newBuilder()
                .setAvailableCapacity(r.availableBytes())
                .setMaximumVolumeSize(Int64Value.of(r.maxVolumeBytes()))
                .setMinimumVolumeSize(Int64Value.of(r.minVolumeBytes()))
                .build();
    }

    private static GetCapacityResponse zero() {
        return GetCapacityResponse.newBuilder()
                .setAvailableCapacity(0)
                .setMaximumVolumeSize(Int64Value.of(0))
                .build();
    }
}
