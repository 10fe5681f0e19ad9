package dev.pmemcsi.node;

import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.device.VolumeNotFoundException;
import dev.pmemcsi.driver.PreconditionFailedException;
import java.nio.file.Files;

/** The node's volumes as its RPCs may name them: persistent ones by ID, with a device to use. */
final class NodeVolumes {

    private final DeviceManager devices;
    private final String nodeId;

    NodeVolumes(DeviceManager devices, String nodeId) {
        this.devices = devices;
        this.nodeId = nodeId;
    }

    /** The persistent volume {@code id}; an ephemeral volume is only ever published inline, by its pod. */
    PmemVolume persistent(String id) throws DeviceException {
        if (VolumeIds.isEphemeral(id)) {
            throw new VolumeNotFoundException("volume " + id + " is a CSI ephemeral inline volume, not a"
                    + " persistent volume; only its pod's inline volume publishes it");
        }
        return devices.getVolume(id).orElseThrow(() -> new VolumeNotFoundException("volume " + id
                + " does not exist on node " + nodeId));
    }

    static void requireDevice(PmemVolume vol) throws PreconditionFailedException {
        if (!Files.exists(vol.devicePath())) {
            throw new PreconditionFailedException("the device " + vol.devicePath() + " of volume "
                    + vol.id() + " has disappeared");
        }
    }
}
