package dev.pmemcsi.node;

import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.pmemnative.NativeException;
import dev.pmemcsi.pmemnative.mount.MountOptions;
import dev.pmemcsi.pmemnative.mount.MountTable;
import dev.pmemcsi.pmemnative.mount.Mounter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * What the node service does when it starts: load the records and reconcile them with the mounts.
 * Operations a crash interrupted are rolled back (publications, stagings) or finished (removals),
 * and finished ones whose mount vanished (a reboot) are restored. Problems with one record are
 * logged and leave that record for the next start; they do not stop the service.
 */
final class StartupRecovery {

    private static final Logger LOG = LoggerFactory.getLogger(StartupRecovery.class);

    private final NodeState state;
    private final NodePaths paths;
    private final Mounter mounter;
    private final DeviceManager devices;
    private final MountPoints mountPoints;
    private final EphemeralVolumes ephemeralVolumes;

    StartupRecovery(NodeState state, NodePaths paths, Mounter mounter, DeviceManager devices, MountPoints mountPoints,
                    EphemeralVolumes ephemeralVolumes) {
        this.state = state;
        this.paths = paths;
        this.mounter = mounter;
        this.devices = devices;
        this.mountPoints = mountPoints;
        this.ephemeralVolumes = ephemeralVolumes;
    }

    void start() throws IOException {
        state.load();
        try {
            int left = mounter.releasePrivateBinds();
            if (left > 0) {
                LOG.warn("removed {} private bind mount(s) an interrupted publish left behind", left);
            }
        } catch (NativeException e) {
            LOG.error("cannot remove the private bind mounts an interrupted publish left behind", e);
        }
        List<Attachment> records = new ArrayList<>(state.all());
        // Publications depend on stagings: undo them first, restore them last.
        records.sort(Comparator.comparing((Attachment a) -> a.kind() == Attachment.Kind.STAGED));
        for (Attachment a : records) {
            if (a.phase() != Attachment.Phase.DONE) {
                reconcileUnfinished(a);
            }
        }
        records.sort(Comparator.comparing((Attachment a) -> a.kind() == Attachment.Kind.PUBLISHED));
        for (Attachment a : records) {
            if (a.phase() == Attachment.Phase.DONE) {
                reconcileDone(a);
            }
        }
        LOG.info("node service started with {} staged/published volume records", state.all().size());
    }

    private void reconcileUnfinished(Attachment a) {
        MDC.put("volume", a.volumeId());
        try {
            if (outsideTrees(a)) {
                return;
            }
            LOG.warn("{} of volume {} at {} was interrupted in phase {}; {}", a.kind(), a.volumeId(), a.path(),
                    a.phase(), a.phase() == Attachment.Phase.PENDING ? "rolling it back" : "finishing the removal");
            tearDown(a, a.kind() == Attachment.Kind.PUBLISHED);
        } catch (Exception e) {
            LOG.error("cannot reconcile {} of volume {} at {}; the record stays for the next start", a.kind(),
                    a.volumeId(), a.path(), e);
        } finally {
            MDC.remove("volume");
        }
    }

    /** Unmounts, removes what the driver created, deletes an ephemeral volume, forgets the record. */
    private void tearDown(Attachment a, boolean removeTarget) throws Exception {
        mountPoints.unmountAll(a.realPath());
        if (removeTarget) {
            MountPoints.removeTarget(a.realPath());
        }
        if (a.ephemeral()) {
            ephemeralVolumes.delete(a);
        }
        state.remove(a);
    }

    private void reconcileDone(Attachment a) {
        MDC.put("volume", a.volumeId());
        try {
            if (outsideTrees(a)) {
                return;
            }
            boolean blockStaging = a.kind() == Attachment.Kind.STAGED && a.access() == Attachment.Access.BLOCK;
            if (blockStaging || MountTable.read().isMountPoint(a.realPath())) {
                return;
            }
            Path parent = a.realPath().getParent();
            if (!Files.isDirectory(parent)) {
                // The pod's (or kubelet's) directory is gone, so no one will ever unpublish it:
                // an ephemeral volume lives and dies with its pod.
                LOG.warn("{} of volume {} at {} lost its mount and its parent directory; forgetting it{}",
                        a.kind(), a.volumeId(), a.path(), a.ephemeral() ? " and deleting the ephemeral volume" : "");
                tearDown(a, false);
                return;
            }
            Optional<PmemVolume> vol = devices.getVolume(a.deviceId());
            if (vol.isEmpty() || !Files.exists(vol.get().devicePath())) {
                LOG.error("{} of volume {} at {} is not mounted and its device is gone; left as it is",
                        a.kind(), a.volumeId(), a.path());
                return;
            }
            LOG.warn("{} of volume {} at {} is not mounted (host reboot?); restoring it", a.kind(), a.volumeId(), a.path());
            restore(a, vol.get());
        } catch (Exception e) {
            LOG.error("cannot restore {} of volume {} at {}; the record stays", a.kind(), a.volumeId(), a.path(), e);
        } finally {
            MDC.remove("volume");
        }
    }

    /** Makes the recorded mount again: a staging or ephemeral volume's filesystem, or a publication's bind. */
    private void restore(Attachment a, PmemVolume vol) throws Exception {
        if (a.kind() == Attachment.Kind.STAGED || a.ephemeral()) {
            mountPoints.remount(a, vol);
            return;
        }
        long flags = a.readOnly() || a.accessMode().equals("SINGLE_NODE_READER_ONLY") ? MountOptions.MS_RDONLY : 0;
        if (a.access() == Attachment.Access.MOUNT) {
            Attachment stage = state.staged(a.volumeId()).orElseThrow(
                    () -> new IllegalStateException("its staging record is missing"));
            if (!paths.allows(stage.realPath())) {
                throw new IllegalStateException("its staging path " + stage.realPath() + " lies outside the"
                        + " kubelet trees");
            }
            if (!NodePaths.exists(a.realPath())) {
                Files.createDirectory(a.realPath());
            }
            mounter.bind(stage.realPath(), a.realPath(), flags | MountOptions.of(a.mountFlags()).flags());
        } else {
            MountPoints.createFile(a.realPath());
            mounter.bind(vol.devicePath(), a.realPath(), flags);
        }
    }

    /**
     * Whether a record names a path the driver may no longer act on (another --kubelet-dir, or an
     * older driver that did not confine paths): such a record is logged and left as it is.
     */
    private boolean outsideTrees(Attachment a) {
        if (paths.allows(a.path()) && paths.allows(a.realPath())) {
            return false;
        }
        LOG.error("{} of volume {} at {} lies outside the kubelet trees below {} or in the driver's own directories;"
                + " the record is left as it is, nothing there is touched", a.kind(), a.volumeId(), a.path(),
                paths.kubeletDir());
        return true;
    }
}
