package dev.pmemcsi.node;

import dev.pmemcsi.csi.v1.NodeGetVolumeStatsRequest;
import dev.pmemcsi.csi.v1.NodeGetVolumeStatsResponse;
import dev.pmemcsi.csi.v1.VolumeCondition;
import dev.pmemcsi.csi.v1.VolumeUsage;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.VolumeHealth;
import dev.pmemcsi.device.VolumeNotFoundException;
import dev.pmemcsi.pmemnative.BlockDevice;
import dev.pmemcsi.pmemnative.NativeException;
import dev.pmemcsi.pmemnative.mount.FsStats;
import dev.pmemcsi.pmemnative.mount.MountTable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * NodeGetVolumeStats: the usage of a staged or published volume, and its condition as the device
 * manager and the device node tell it. It takes no lock: statistics must never make a concurrent
 * stage or publish fail with ABORTED.
 */
final class VolumeStats {

    private static final Logger LOG = LoggerFactory.getLogger(VolumeStats.class);

    private final NodeState state;
    private final NodePaths paths;
    private final DeviceManager devices;

    VolumeStats(NodeState state, NodePaths paths, DeviceManager devices) {
        this.state = state;
        this.paths = paths;
        this.devices = devices;
    }

    NodeGetVolumeStatsResponse stats(NodeGetVolumeStatsRequest req) throws Exception {
        String id = RequestFields.nonEmpty("volume_id", req.getVolumeId());
        Path path = paths.volumePath(id, RequestFields.nonEmpty("volume_path", req.getVolumePath()));
        Attachment a = state.doneAt(id, path)
                .orElseThrow(() -> new VolumeNotFoundException("volume " + id + " is neither staged nor"
                        + " published at " + path));
        boolean expectMount = !(a.kind() == Attachment.Kind.STAGED && a.access() == Attachment.Access.BLOCK);
        if (expectMount && !MountPoints.showsVolume(a.devicePath(), a.access(), a.realPath(), MountTable.read())) {
            // Whatever is there now (the host's directory, another filesystem) is not the volume:
            // its figures would describe something else.
            throw new VolumeNotFoundException("volume " + id + " is not mounted at " + path);
        }
        List<String> problems = problems(a);
        NodeGetVolumeStatsResponse.Builder b = NodeGetVolumeStatsResponse.newBuilder();
        if (a.access() == Attachment.Access.MOUNT) {
            FsStats fs = FsStats.of(a.realPath());
            b.addUsage(usage(fs.totalBytes(), fs.availableBytes(), fs.usedBytes(), VolumeUsage.Unit.BYTES));
            b.addUsage(usage(fs.totalInodes(), fs.freeInodes(), fs.usedInodes(), VolumeUsage.Unit.INODES));
        } else {
            try {
                long size = BlockDevice.sizeOf(expectMount ? a.realPath() : a.devicePath());
                b.addUsage(VolumeUsage.newBuilder().setTotal(size).setUnit(VolumeUsage.Unit.BYTES));
            } catch (NativeException e) {
                problems.add("cannot read the size of the device: " + e.getMessage());
            }
        }
        b.setVolumeCondition(VolumeCondition.newBuilder()
                .setAbnormal(!problems.isEmpty())
                .setMessage(problems.isEmpty() ? "ok" : String.join("; ", problems)));
        if (!problems.isEmpty()) {
            LOG.warn("volume {} at {} is abnormal: {}", id, path, String.join("; ", problems));
        }
        return b.build();
    }

    /** What the device manager and the device node say is wrong with the volume. */
    private List<String> problems(Attachment a) throws DeviceException {
        List<String> problems = new ArrayList<>();
        try {
            VolumeHealth h = devices.volumeHealth(a.deviceId());
            if (h.abnormal()) {
                problems.add(h.message());
            }
        } catch (VolumeNotFoundException e) {
            problems.add("volume " + a.deviceId() + " no longer exists on this node");
        }
        if (!Files.exists(a.devicePath())) {
            problems.add("device " + a.devicePath() + " has disappeared");
        }
        return problems;
    }

    private static VolumeUsage usage(long total, long available, long used, VolumeUsage.Unit unit) {
        return VolumeUsage.newBuilder().setTotal(total).setAvailable(available).setUsed(used).setUnit(unit).build();
    }
}
