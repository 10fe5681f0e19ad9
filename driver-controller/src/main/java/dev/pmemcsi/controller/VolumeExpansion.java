package dev.pmemcsi.controller;

import dev.pmemcsi.csi.v1.ControllerExpandVolumeRequest;
import dev.pmemcsi.csi.v1.ControllerExpandVolumeResponse;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.VolumeAccess;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.device.VolumeInUseException;
import dev.pmemcsi.device.VolumeNotFoundException;
import dev.pmemcsi.driver.InvalidRequestException;
import dev.pmemcsi.driver.NodeVolumeUse;
import dev.pmemcsi.driver.NotOfferedException;
import dev.pmemcsi.driver.OperationInProgressException;
import dev.pmemcsi.driver.PreconditionFailedException;
import dev.pmemcsi.driver.VolumeCapabilities;
import dev.pmemcsi.driver.VolumeLocks;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * ControllerExpandVolume: grows a volume's device. A volume in use can only grow in place (its
 * data must not move under a mounted filesystem or an open device), which the backend decides
 * (an OFFLINE backend never grows in place, so it refuses every volume in use); a
 * filesystem on it then needs NodeExpandVolume, a raw block volume does not. The call holds the
 * volume's lock, which the node service also takes.
 */
final class VolumeExpansion {

    private static final Logger LOG = LoggerFactory.getLogger(VolumeExpansion.class);

    private final LocalNode node;
    private final DeviceManager devices;
    private final VolumeLocks locks;
    private final NodeVolumeUse use;

    VolumeExpansion(LocalNode node, DeviceManager devices, VolumeLocks locks, NodeVolumeUse use) {
        this.node = node;
        this.devices = devices;
        this.locks = locks;
        this.use = use;
    }

    /** Whether the backend grows volumes: without it, neither the capability nor the call is offered. */
    boolean offered() {
        return devices.expansion() != DeviceManager.Expansion.NONE;
    }

    @SuppressWarnings("try") // the lock only needs releasing
    ControllerExpandVolumeResponse expand(ControllerExpandVolumeRequest req) throws NotOfferedException,
            InvalidRequestException, OperationInProgressException, PreconditionFailedException, DeviceException {
        if (!offered()) {
            throw new NotOfferedException("ControllerExpandVolume: " + devices.backendName()
                    + " volumes cannot grow (EXPAND_VOLUME is not offered)");
        }
        String id = req.getVolumeId();
        if (id.isEmpty()) {
            throw new InvalidRequestException("volume_id must not be empty");
        }
        if (!req.hasCapacityRange()) {
            throw new InvalidRequestException("capacity_range must be set: it says how large the volume must become");
        }
        SizeRange range = SizeRange.of(req.getCapacityRange());
        if (range.requiredBytes() == 0) {
            throw new InvalidRequestException("capacity_range.required_bytes must be set: a volume grows to at"
                    + " least that size");
        }
        Optional<VolumeCapability> cap = req.hasVolumeCapability() ? Optional.of(req.getVolumeCapability())
                : Optional.empty();
        if (cap.isPresent()) {
            VolumeCapabilities.validate(cap.get());
        }
        if (!VolumeIds.isValid(id)) {
            throw notFound(id);
        }
        try (VolumeLocks.Held held = locks.acquire(id)) {
            PmemVolume before = devices.getVolume(id).orElseThrow(() -> notFound(id));
            if (cap.isPresent()) {
                // The answer's node_expansion_required follows the capability: one the volume does
                // not serve would skip (or ask for) a filesystem step that does not fit the volume.
                VolumeAccess asked = VolumeCapabilities.access(List.of(cap.get()));
                if (!before.access().serves(asked)) {
                    throw new InvalidRequestException("volume " + id + " was created for "
                            + before.access().describe() + ", not for " + asked.describe());
                }
            }
            Optional<String> where = use.usage(id);
            PmemVolume after;
            try {
                after = devices.expandVolume(id, range.requiredBytes(), range.limitBytes(), where.isPresent());
            } catch (VolumeInUseException e) {
                // CSI: a volume in use that the plugin cannot grow online is FAILED_PRECONDITION.
                String why = devices.expansion() == DeviceManager.Expansion.OFFLINE
                        ? devices.backendName() + " volumes grow only while unused (OFFLINE expansion: they move"
                                + " to a larger device)"
                        : "the space after it is taken, and moving it needs the volume unused";
                throw new PreconditionFailedException("volume " + id + " cannot grow now: " + why + ", but it is "
                        + where.orElse("in use") + " on node \"" + node.id() + "\"; stop the pods that use it,"
                        + " then the resize is retried", e);
            }
            boolean nodeStep = needsNodeStep(cap, after.access());
            if (after.capacityBytes() != before.capacityBytes()) {
                LOG.info("expanded volume {} from {} to {} bytes ({} usable), in {}{}", id, before.capacityBytes(),
                        after.capacityBytes(), after.usableBytes(), after.region(),
                        nodeStep ? "; its filesystem grows on NodeExpandVolume" : "");
            } else {
                LOG.debug("volume already has {} bytes, at least the required {}", after.capacityBytes(),
                        range.requiredBytes());
            }
            return ControllerExpandVolumeResponse.newBuilder()
                    .setCapacityBytes(after.capacityBytes())
                    .setNodeExpansionRequired(nodeStep)
                    .build();
        }
    }

    /**
     * A raw block volume is the device itself, so it is grown once the device is; a filesystem
     * must be grown on the node. Without a capability in the request, what the volume was created
     * for decides, and a volume without a record is treated as one that holds a filesystem.
     */
    private static boolean needsNodeStep(Optional<VolumeCapability> cap, VolumeAccess access) {
        if (cap.isPresent()) {
            return !cap.get().hasBlock();
        }
        return !(access.block() && access.filesystem().isEmpty());
    }

    private static VolumeNotFoundException notFound(String id) {
        return new VolumeNotFoundException("volume " + id + " does not exist");
    }
}
