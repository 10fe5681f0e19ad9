package dev.pmemcsi.node;

import dev.pmemcsi.csi.v1.NodeExpandVolumeRequest;
import dev.pmemcsi.csi.v1.NodeExpandVolumeResponse;
import dev.pmemcsi.csi.v1.NodeGetCapabilitiesRequest;
import dev.pmemcsi.csi.v1.NodeGetCapabilitiesResponse;
import dev.pmemcsi.csi.v1.NodeGetInfoRequest;
import dev.pmemcsi.csi.v1.NodeGetInfoResponse;
import dev.pmemcsi.csi.v1.NodeGetVolumeStatsRequest;
import dev.pmemcsi.csi.v1.NodeGetVolumeStatsResponse;
import dev.pmemcsi.csi.v1.NodeGrpc;
import dev.pmemcsi.csi.v1.NodePublishVolumeRequest;
import dev.pmemcsi.csi.v1.NodePublishVolumeResponse;
import dev.pmemcsi.csi.v1.NodeServiceCapability;
import dev.pmemcsi.csi.v1.NodeStageVolumeRequest;
import dev.pmemcsi.csi.v1.NodeStageVolumeResponse;
import dev.pmemcsi.csi.v1.NodeUnpublishVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnpublishVolumeResponse;
import dev.pmemcsi.csi.v1.NodeUnstageVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnstageVolumeResponse;
import dev.pmemcsi.csi.v1.Topology;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.csi.v1.VolumeCondition;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.FaultPoints;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.Volume;
import dev.pmemcsi.device.VolumeHealth;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.device.VolumeNotFoundException;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.driver.OperationInProgressException;
import dev.pmemcsi.driver.RpcEdge;
import dev.pmemcsi.driver.DriverConfig;
import dev.pmemcsi.driver.InvalidRequestException;
import dev.pmemcsi.driver.VolumeCapabilities;
import dev.pmemcsi.driver.VolumeLocks;
import dev.pmemcsi.driver.VolumeParameters;
import dev.pmemcsi.driver.NodeVolumeUse;
import dev.pmemcsi.nativeio.BlockDevice;
import dev.pmemcsi.nativeio.CommandFailedException;
import dev.pmemcsi.nativeio.CommandRunner;
import dev.pmemcsi.nativeio.NativeException;
import dev.pmemcsi.nativeio.mount.DeviceNumber;
import dev.pmemcsi.nativeio.mount.FilesystemProbe;
import dev.pmemcsi.nativeio.mount.Filesystems;
import dev.pmemcsi.nativeio.mount.FsStats;
import dev.pmemcsi.nativeio.mount.MountInfo;
import dev.pmemcsi.nativeio.mount.MountOptions;
import dev.pmemcsi.nativeio.mount.MountTable;
import dev.pmemcsi.nativeio.mount.Mounter;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.FutureTask;
import java.util.function.Predicate;
import jnr.constants.platform.Errno;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * The CSI Node service: puts PMEM volumes where pods can use them. Mount-access volumes are
 * formatted once (ext4 or xfs laid out for huge pages), mounted with DAX at the staging path, and
 * bind-mounted into each pod; block-access volumes are bind-mounted device nodes. CSI ephemeral
 * inline volumes are created, formatted and mounted at the target by NodePublishVolume and deleted
 * by NodeUnpublishVolume.
 *
 * <p>Every staging and publication is recorded under the state directory before its mount is
 * made, and every question about what is mounted is answered from {@code /proc/self/mountinfo}.
 * {@link #start()} compares the two after a restart.
 */
public final class NodeService extends NodeGrpc.NodeImplBase implements NodeVolumeUse {

    private static final Logger LOG = LoggerFactory.getLogger(NodeService.class);
    /** Mounts stacked at one path that unmounting will peel off before giving up. */
    private static final int MAX_STACKED_MOUNTS = 16;

    // Test-only crash points (see FaultPoints): each sits between two steps whose partial
    // outcome a restart must repair.
    /** The PENDING staging record is durable; nothing is mounted yet. */
    public static final String FAULT_STAGE_RECORDED = "node.stage.recorded";
    /** The filesystem is mounted at the staging path; the record still says PENDING. */
    public static final String FAULT_STAGE_MOUNTED = "node.stage.mounted";
    /** The staging path is unmounted; its REMOVING record is still there. */
    public static final String FAULT_UNSTAGE_UNMOUNTED = "node.unstage.unmounted";
    /** The PENDING publication record is durable; the target is not created or bound yet. */
    public static final String FAULT_PUBLISH_RECORDED = "node.publish.recorded";
    /** The bind mount is in place; the record still says PENDING. */
    public static final String FAULT_PUBLISH_MOUNTED = "node.publish.mounted";
    /** The target is unmounted but not removed; its REMOVING record is still there. */
    public static final String FAULT_UNPUBLISH_UNMOUNTED = "node.unpublish.unmounted";
    /** Ephemeral: the PENDING record is durable; the volume does not exist yet. */
    public static final String FAULT_EPHEMERAL_RECORDED = "node.ephemeral.recorded";
    /** Ephemeral: the volume exists and is recorded; nothing is formatted or mounted yet. */
    public static final String FAULT_EPHEMERAL_CREATED = "node.ephemeral.created";
    /** Ephemeral: the filesystem is mounted at the target; the record still says PENDING. */
    public static final String FAULT_EPHEMERAL_MOUNTED = "node.ephemeral.mounted";
    /** Ephemeral unpublish: the volume is deleted; its REMOVING record is still there. */
    public static final String FAULT_EPHEMERAL_DELETED = "node.ephemeral.deleted";

    private final DriverConfig config;
    private final DeviceManager devices;
    private final VolumeLocks locks;
    /**
     * Held by every operation that looks at the mounts and records of a path and then changes
     * them, keyed by the resolved path: the volume lock alone lets two volumes mount at one path.
     */
    private final VolumeLocks pathLocks = new VolumeLocks();
    private final NodeState state;
    private final Mounter mounter;
    private final FilesystemMounter filesystems;
    private final NodePaths paths;
    /** Writes state records while mkfs runs; idle threads go away after a minute. */
    private final ExecutorService background = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "node-state-writer");
        t.setDaemon(true);
        return t;
    });

    /** @param paths where staging and target paths may lie; the state dir is kept out of them here */
    public NodeService(DriverConfig config, DeviceManager devices, VolumeLocks locks, Path stateDir,
                       NodePaths paths) throws IOException {
        this(config, devices, locks, stateDir, paths, OperationListener.NONE);
    }

    /** @param listener is told about every mkfs and filesystem mount */
    public NodeService(DriverConfig config, DeviceManager devices, VolumeLocks locks, Path stateDir,
                       NodePaths paths, OperationListener listener) throws IOException {
        this.config = config;
        this.devices = devices;
        this.locks = locks;
        this.state = new NodeState(stateDir);
        this.paths = paths.reserving(stateDir);
        // Where read-only and other restricted publications are prepared (see Mounter.bind).
        this.mounter = new Mounter(stateDir.resolve("private-binds"));
        CommandRunner runner = new CommandRunner();
        this.filesystems = new FilesystemMounter(mounter, new Filesystems(runner), new FilesystemProbe(runner), listener);
    }

    /**
     * Loads the records and reconciles them with the mounts: operations a crash interrupted are
     * rolled back (publications, stagings) or finished (removals), and finished ones whose mount
     * vanished (a reboot) are restored. Problems with one record are logged and leave that record
     * for the next start; they do not stop the service.
     */
    public synchronized void start() throws IOException {
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

    // ------------------------------------------------------------------ identity

    @Override
    public void nodeGetInfo(NodeGetInfoRequest request, StreamObserver<NodeGetInfoResponse> obs) {
        serve("NodeGetInfo", "", obs, () -> NodeGetInfoResponse.newBuilder()
                .setNodeId(config.nodeId())
                .setMaxVolumesPerNode(config.maxVolumesPerNode())
                .setAccessibleTopology(Topology.newBuilder().putAllSegments(config.topologySegment()))
                .build());
    }

    @Override
    public void nodeGetCapabilities(NodeGetCapabilitiesRequest request, StreamObserver<NodeGetCapabilitiesResponse> obs) {
        serve("NodeGetCapabilities", "", obs, () -> {
            NodeGetCapabilitiesResponse.Builder b = NodeGetCapabilitiesResponse.newBuilder();
            for (NodeServiceCapability.RPC.Type t : List.of(
                    NodeServiceCapability.RPC.Type.STAGE_UNSTAGE_VOLUME,
                    NodeServiceCapability.RPC.Type.GET_VOLUME_STATS,
                    NodeServiceCapability.RPC.Type.VOLUME_CONDITION,
                    NodeServiceCapability.RPC.Type.SINGLE_NODE_MULTI_WRITER)) {
                b.addCapabilities(NodeServiceCapability.newBuilder()
                        .setRpc(NodeServiceCapability.RPC.newBuilder().setType(t)));
            }
            return b.build();
        });
    }

    @Override
    public void nodeExpandVolume(NodeExpandVolumeRequest request, StreamObserver<NodeExpandVolumeResponse> obs) {
        serve("NodeExpandVolume", request.getVolumeId(), obs, () -> {
            throw Status.UNIMPLEMENTED.withDescription("PMEM volumes cannot be expanded").asRuntimeException();
        });
    }

    // ------------------------------------------------------------------ stage

    @Override
    public void nodeStageVolume(NodeStageVolumeRequest request, StreamObserver<NodeStageVolumeResponse> obs) {
        serve("NodeStageVolume", request.getVolumeId(), obs, () -> {
            stage(request);
            return NodeStageVolumeResponse.getDefaultInstance();
        });
    }

    private void stage(NodeStageVolumeRequest req) throws Exception {
        String id = require("volume_id", req.getVolumeId());
        Path path = NodePaths.parse("staging_target_path", req.getStagingTargetPath());
        paths.confine("staging_target_path", path);
        VolumeCapability cap = capability(req.hasVolumeCapability(), req.getVolumeCapability());
        Path real = resolve("staging_target_path", path);
        try (VolumeLocks.Held held = lock(id); VolumeLocks.Held atPath = lockPath("staging_target_path", real)) {
            Volume vol = volume(id);
            requireDevice(vol);
            Attachment.Access access = access(cap);
            requireUnused("staging_target_path", path, real,
                    a -> a.kind() == Attachment.Kind.STAGED && a.volumeId().equals(id));
            if (access == Attachment.Access.MOUNT) {
                // Also refuses a path of another type before mkfs runs.
                createDirectory("staging_target_path", real);
            }
            Attachment wanted = new Attachment(Attachment.Kind.STAGED, Attachment.Phase.PENDING, id, path, real,
                    access, fsType(cap), mountFlags(cap), cap.getAccessMode().getMode().name(), false, "", false,
                    id, vol.devicePath(), vol.eraseAfter());
            Optional<Attachment> existing = state.staged(id);
            Conflicts.stage(existing, wanted).ifPresent(s -> {
                throw s.asRuntimeException();
            });
            if (access == Attachment.Access.BLOCK) {
                // Nothing to mount: the device is bind-mounted straight into each pod.
                if (existing.isEmpty() || existing.get().phase() != Attachment.Phase.DONE) {
                    state.put(wanted.withPhase(Attachment.Phase.DONE));
                }
                LOG.info("block volume {} staged (device {})", id, vol.devicePath());
                return;
            }
            DeviceNumber devNo = DeviceNumber.ofBlockDevice(vol.devicePath());
            MountTable mounts = MountTable.read();
            Optional<MountInfo> top = mounts.top(real);
            if (top.isPresent()) {
                if (!devNo.matches(top.get())) {
                    throw Status.FAILED_PRECONDITION.withDescription("staging path " + path + " already has "
                            + top.get().source() + " (" + top.get().fsType() + ") mounted").asRuntimeException();
                }
                if (existing.isEmpty() || existing.get().phase() != Attachment.Phase.DONE) {
                    state.put(wanted.withPhase(Attachment.Phase.DONE));
                }
                LOG.debug("volume {} is already staged at {}", id, path);
                return;
            }
            if (existing.isEmpty()) {
                List<MountInfo> elsewhere = mounts.ofDevice(devNo.major(), devNo.minor());
                if (!elsewhere.isEmpty()) {
                    throw Status.FAILED_PRECONDITION.withDescription("device " + vol.devicePath() + " of volume " + id
                            + " is already mounted at " + elsewhere.get(0).mountPoint()
                            + ", which the driver has no record of").asRuntimeException();
                }
            }
            // The record must be on disk before the mount, not before mkfs: a crash after mkfs
            // leaves a formatted, unmounted device, which the next stage uses as it is. So the
            // record's fsyncs run while mkfs does.
            FutureTask<Void> record = new FutureTask<>(() -> {
                state.put(wanted);
                return null;
            });
            background.execute(record);
            try {
                boolean formatted;
                try {
                    formatted = filesystems.prepare(vol, wanted.fsType(), true);
                } finally {
                    awaitRecord(record);
                }
                FaultPoints.reached(FAULT_STAGE_RECORDED);
                boolean dax = filesystems.mountPrepared(vol, wanted.fsType(), wanted.mountFlags(),
                        VolumeCapabilities.isReadOnlyMode(cap), real);
                FaultPoints.reached(FAULT_STAGE_MOUNTED);
                state.update(wanted.withPhase(Attachment.Phase.DONE));
                LOG.info("volume {} staged at {}: {}{}, DAX {}", id, path, wanted.fsType(),
                        formatted ? " (new filesystem)" : "", dax ? "on" : "off");
            } catch (Exception e) {
                undoMount(real, e);
                forget(wanted, e);
                throw e;
            }
        }
    }

    @Override
    public void nodeUnstageVolume(NodeUnstageVolumeRequest request, StreamObserver<NodeUnstageVolumeResponse> obs) {
        serve("NodeUnstageVolume", request.getVolumeId(), obs, () -> {
            unstage(request);
            return NodeUnstageVolumeResponse.getDefaultInstance();
        });
    }

    private void unstage(NodeUnstageVolumeRequest req) throws Exception {
        String id = require("volume_id", req.getVolumeId());
        Path path = NodePaths.parse("staging_target_path", req.getStagingTargetPath());
        paths.confine("staging_target_path", path);
        try (VolumeLocks.Held held = lock(id);
             VolumeLocks.Held atPath = lockPath("staging_target_path", paths.resolveOr("staging_target_path", path, path))) {
            Optional<Attachment> rec = state.staged(id);
            if (rec.isPresent() && !rec.get().path().equals(path)) {
                throw Status.FAILED_PRECONDITION.withDescription("volume " + id + " is staged at "
                        + rec.get().path() + ", not at " + path).asRuntimeException();
            }
            List<Attachment> published = state.publishedOf(id);
            if (!published.isEmpty()) {
                throw Status.FAILED_PRECONDITION.withDescription("volume " + id + " is still published at "
                        + published.get(0).path() + "; unpublish it first").asRuntimeException();
            }
            Path real = paths.resolveOr("staging_target_path", path, rec.map(Attachment::realPath).orElse(path));
            if (rec.isEmpty() && recordedOtherwise("staging_target_path", id, path, real)) {
                return;
            }
            if (rec.isEmpty() && !holdsVolume(id, real)) {
                // Not staged here by the driver: whatever is mounted at the path belongs to someone else.
                LOG.info("volume {} is not staged at {}; nothing to do", id, path);
                return;
            }
            if (rec.isPresent()) {
                state.put(rec.get().withPhase(Attachment.Phase.REMOVING));
            }
            int unmounted = unmountAll(real);
            FaultPoints.reached(FAULT_UNSTAGE_UNMOUNTED);
            if (rec.isPresent()) {
                state.remove(rec.get());
            }
            // The staging directory itself belongs to the CO (kubelet removes it), so it stays.
            LOG.info("volume {} unstaged from {}{}", id, path,
                    rec.isEmpty() && unmounted == 0 ? " (it was neither recorded nor mounted)" : "");
        }
    }

    // ------------------------------------------------------------------ publish

    @Override
    public void nodePublishVolume(NodePublishVolumeRequest request, StreamObserver<NodePublishVolumeResponse> obs) {
        serve("NodePublishVolume", request.getVolumeId(), obs, () -> {
            publish(request);
            return NodePublishVolumeResponse.getDefaultInstance();
        });
    }

    private void publish(NodePublishVolumeRequest req) throws Exception {
        String id = require("volume_id", req.getVolumeId());
        Path target = NodePaths.parse("target_path", req.getTargetPath());
        paths.confine("target_path", target);
        VolumeCapability cap = capability(req.hasVolumeCapability(), req.getVolumeCapability());
        boolean ephemeral = "true".equalsIgnoreCase(req.getVolumeContextMap().get(VolumeParameters.EPHEMERAL));
        if (ephemeral) {
            publishEphemeral(req, id, target, cap);
            return;
        }
        Path staging = NodePaths.parse("staging_target_path", req.getStagingTargetPath());
        paths.confine("staging_target_path", staging);
        Path real = resolve("target_path", target);
        try (VolumeLocks.Held held = lock(id); VolumeLocks.Held atPath = lockPath("target_path", real)) {
            Volume vol = volume(id);
            Attachment stage = state.staged(id)
                    .filter(s -> s.phase() == Attachment.Phase.DONE)
                    .orElseThrow(() -> Status.FAILED_PRECONDITION.withDescription("volume " + id
                            + " is not staged; NodeStageVolume must come first").asRuntimeException());
            if (!stage.path().equals(staging)) {
                throw Status.FAILED_PRECONDITION.withDescription("volume " + id + " is staged at " + stage.path()
                        + ", not at " + staging).asRuntimeException();
            }
            // The bind source too: a record may predate the confinement or the current --kubelet-dir.
            paths.confine("staging_target_path", stage.realPath());
            Attachment.Access access = access(cap);
            if (access != stage.access()) {
                throw Status.FAILED_PRECONDITION.withDescription("volume " + id + " is staged for "
                        + stage.access() + " access, not " + access).asRuntimeException();
            }
            requireUnused("target_path", target, real, a -> a.kind() == Attachment.Kind.PUBLISHED);
            boolean readOnly = req.getReadonly() || VolumeCapabilities.isReadOnlyMode(cap);
            Attachment wanted = new Attachment(Attachment.Kind.PUBLISHED, Attachment.Phase.PENDING, id, target, real,
                    access, fsType(cap), mountFlags(cap), cap.getAccessMode().getMode().name(), req.getReadonly(),
                    staging.toString(), false, id, vol.devicePath(), false);
            Optional<Attachment> existing = state.publishedAt(target);
            Conflicts.publish(existing, state.publishedOf(id), wanted).ifPresent(s -> {
                throw s.asRuntimeException();
            });
            MountTable mounts = MountTable.read();
            Optional<MountInfo> top = mounts.top(real);
            if (top.isPresent()) {
                if (existing.isPresent() && existing.get().phase() == Attachment.Phase.DONE
                        && showsVolume(vol.devicePath(), access, real, mounts)) {
                    LOG.debug("volume {} is already published at {}", id, target);
                    return;
                }
                throw Status.FAILED_PRECONDITION.withDescription("target path " + target + " already has "
                        + top.get().source() + " (" + top.get().fsType() + ") mounted, which the driver has no"
                        + " record of").asRuntimeException();
            }
            requireType("target_path", real, access == Attachment.Access.MOUNT);
            if (access == Attachment.Access.MOUNT) {
                requireStagingMount(stage, vol, mounts);
            }
            state.put(wanted);
            FaultPoints.reached(FAULT_PUBLISH_RECORDED);
            boolean created = false;
            try {
                long flags = readOnly ? MountOptions.MS_RDONLY : 0;
                if (access == Attachment.Access.MOUNT) {
                    created = createDirectory("target_path", real);
                    flags |= MountOptions.of(wanted.mountFlags()).flags();
                    mounter.bind(stage.realPath(), real, flags);
                } else {
                    created = createFile(real);
                    mounter.bind(vol.devicePath(), real, flags);
                }
                FaultPoints.reached(FAULT_PUBLISH_MOUNTED);
                state.update(wanted.withPhase(Attachment.Phase.DONE));
                LOG.info("volume {} published at {}{}", id, target, readOnly ? " read-only" : "");
            } catch (Exception e) {
                undoMount(real, e);
                if (created) {
                    removeQuietly(real, e);
                }
                forget(wanted, e);
                throw e;
            }
        }
    }

    private void publishEphemeral(NodePublishVolumeRequest req, String id, Path target, VolumeCapability cap)
            throws Exception {
        if (access(cap) != Attachment.Access.MOUNT) {
            throw new InvalidRequestException("CSI ephemeral inline volumes must have mount access, not block");
        }
        VolumeParameters params = VolumeParameters.parse(req.getVolumeContextMap(), VolumeParameters.Origin.EPHEMERAL_INLINE);
        // Never the ID of a persistent volume, even when kubelet's ID equals one's name or ID.
        String deviceId = VolumeIds.ephemeral(id);
        Path real = resolve("target_path", target);
        try (VolumeLocks.Held held = lock(id); VolumeLocks.Held atPath = lockPath("target_path", real)) {
            requireUnused("target_path", target, real, a -> a.kind() == Attachment.Kind.PUBLISHED);
            // Before the volume is created: a target that cannot be mounted on is refused first.
            requireType("target_path", real, true);
            boolean readOnly = req.getReadonly() || VolumeCapabilities.isReadOnlyMode(cap);
            Attachment wanted = new Attachment(Attachment.Kind.PUBLISHED, Attachment.Phase.PENDING, id, target, real,
                    Attachment.Access.MOUNT, fsType(cap), mountFlags(cap), cap.getAccessMode().getMode().name(),
                    req.getReadonly(), "", true, deviceId, Path.of(""), params.eraseAfter());
            Optional<Attachment> existing = state.publishedAt(target);
            Conflicts.publish(existing, state.publishedOf(deviceId), wanted).ifPresent(s -> {
                throw s.asRuntimeException();
            });
            boolean fresh = existing.isEmpty() || existing.get().phase() != Attachment.Phase.DONE;
            Optional<MountInfo> top = MountTable.read().top(real);
            if (top.isPresent()) {
                if (!fresh) {
                    LOG.debug("ephemeral volume {} is already published at {}", id, target);
                    return;
                }
                throw Status.FAILED_PRECONDITION.withDescription("target path " + target + " already has "
                        + top.get().source() + " mounted, which the driver has no record of").asRuntimeException();
            }
            // Recorded before the device exists, so that a crash in between cannot leak it.
            state.put(fresh ? wanted : existing.get());
            FaultPoints.reached(FAULT_EPHEMERAL_RECORDED);
            boolean created = false;
            try {
                long size = Math.max(params.sizeBytes(), VolumeCapabilities.minimumUsableBytes(List.of(cap)));
                Volume vol = devices.createVolume(new VolumeRequest(deviceId, size, 0, params.mode(),
                        params.eraseAfter(), params.asAttributes()));
                requireDevice(vol);
                Attachment withDevice = new Attachment(wanted.kind(), wanted.phase(), id, target, real, wanted.access(),
                        wanted.fsType(), wanted.mountFlags(), wanted.accessMode(), wanted.readOnly(), "", true,
                        deviceId, vol.devicePath(), params.eraseAfter());
                state.put(withDevice);
                FaultPoints.reached(FAULT_EPHEMERAL_CREATED);
                created = createDirectory("target_path", real);
                FilesystemMounter.Outcome o = filesystems.mount(vol, wanted.fsType(), wanted.mountFlags(), readOnly,
                        real, fresh);
                FaultPoints.reached(FAULT_EPHEMERAL_MOUNTED);
                state.update(withDevice.withPhase(Attachment.Phase.DONE));
                LOG.info("ephemeral volume {} ({} bytes, device {}) published at {}: {}, DAX {}", id,
                        vol.usableBytes(), vol.devicePath(), target, wanted.fsType(), o.dax() ? "on" : "off");
            } catch (Exception e) {
                undoMount(real, e);
                if (created) {
                    removeQuietly(real, e);
                }
                if (fresh) {
                    try {
                        devices.deleteVolume(deviceId, params.eraseAfter());
                    } catch (DeviceException suppressed) {
                        e.addSuppressed(suppressed);
                    }
                    forget(wanted, e);
                }
                throw e;
            }
        }
    }

    @Override
    public void nodeUnpublishVolume(NodeUnpublishVolumeRequest request, StreamObserver<NodeUnpublishVolumeResponse> obs) {
        serve("NodeUnpublishVolume", request.getVolumeId(), obs, () -> {
            unpublish(request);
            return NodeUnpublishVolumeResponse.getDefaultInstance();
        });
    }

    private void unpublish(NodeUnpublishVolumeRequest req) throws Exception {
        String id = require("volume_id", req.getVolumeId());
        Path target = NodePaths.parse("target_path", req.getTargetPath());
        paths.confine("target_path", target);
        try (VolumeLocks.Held held = lock(id);
             VolumeLocks.Held atPath = lockPath("target_path", paths.resolveOr("target_path", target, target))) {
            Optional<Attachment> rec = state.publishedAt(target);
            if (rec.isPresent() && !rec.get().volumeId().equals(id)) {
                throw Status.FAILED_PRECONDITION.withDescription("target path " + target + " holds volume "
                        + rec.get().volumeId() + ", not " + id).asRuntimeException();
            }
            Path real = paths.resolveOr("target_path", target, rec.map(Attachment::realPath).orElse(target));
            if (rec.isEmpty() && recordedOtherwise("target_path", id, target, real)) {
                return;
            }
            if (rec.isEmpty() && !holdsVolume(id, real)) {
                // Not published here by the driver: what is at the path, mounted or not, is not the
                // driver's to unmount or delete.
                LOG.info("volume {} is not published at {}; nothing to do", id, target);
                return;
            }
            if (rec.isPresent()) {
                state.put(rec.get().withPhase(Attachment.Phase.REMOVING));
            }
            int unmounted = unmountAll(real);
            FaultPoints.reached(FAULT_UNPUBLISH_UNMOUNTED);
            removeTarget(real);
            if (rec.isPresent()) {
                if (rec.get().ephemeral()) {
                    deleteEphemeral(rec.get());
                    FaultPoints.reached(FAULT_EPHEMERAL_DELETED);
                }
                state.remove(rec.get());
            }
            LOG.info("volume {} unpublished from {}{}", id, target,
                    rec.isEmpty() && unmounted == 0 ? " (it was neither recorded nor mounted)" : "");
        }
    }

    // ------------------------------------------------------------------ stats

    @Override
    public void nodeGetVolumeStats(NodeGetVolumeStatsRequest request, StreamObserver<NodeGetVolumeStatsResponse> obs) {
        serve("NodeGetVolumeStats", request.getVolumeId(), obs, () -> stats(request));
    }

    private NodeGetVolumeStatsResponse stats(NodeGetVolumeStatsRequest req) throws Exception {
        String id = require("volume_id", req.getVolumeId());
        String given = require("volume_path", req.getVolumePath());
        Path path;
        try {
            path = NodePaths.parse("volume_path", given);
        } catch (InvalidRequestException e) {
            // The driver never puts a volume at a path it would refuse, so the volume is not there.
            throw Status.NOT_FOUND.withDescription("volume " + id + " does not exist on the specified path: "
                    + e.getMessage()).asRuntimeException();
        }
        if (!paths.allows(path)) {
            throw Status.NOT_FOUND.withDescription("volume " + id + " does not exist on the specified path: volume_path "
                    + path + " lies outside the kubelet trees (or in the driver's own directories)").asRuntimeException();
        }
        // No volume lock: statistics must never make a concurrent stage or publish fail with ABORTED.
        Attachment a = state.publishedAt(path).filter(p -> p.volumeId().equals(id))
                .or(() -> state.staged(id).filter(s -> s.path().equals(path)))
                .filter(r -> r.phase() == Attachment.Phase.DONE)
                .orElseThrow(() -> Status.NOT_FOUND.withDescription("volume " + id + " is neither staged nor"
                        + " published at " + path).asRuntimeException());
        boolean expectMount = !(a.kind() == Attachment.Kind.STAGED && a.access() == Attachment.Access.BLOCK);
        if (expectMount && !showsVolume(a.devicePath(), a.access(), a.realPath(), MountTable.read())) {
            // Whatever is there now (the host's directory, another filesystem) is not the volume:
            // its figures would describe something else.
            throw Status.NOT_FOUND.withDescription("volume " + id + " is not mounted at " + path)
                    .asRuntimeException();
        }
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
        NodeGetVolumeStatsResponse.Builder b = NodeGetVolumeStatsResponse.newBuilder();
        if (a.access() == Attachment.Access.MOUNT) {
            FsStats fs = FsStats.of(a.realPath());
            b.addUsage(usage(fs.totalBytes(), fs.availableBytes(), fs.usedBytes(),
                    dev.pmemcsi.csi.v1.VolumeUsage.Unit.BYTES));
            b.addUsage(usage(fs.totalInodes(), fs.freeInodes(), fs.usedInodes(),
                    dev.pmemcsi.csi.v1.VolumeUsage.Unit.INODES));
        } else {
            try {
                long size = BlockDevice.sizeOf(expectMount ? a.realPath() : a.devicePath());
                b.addUsage(dev.pmemcsi.csi.v1.VolumeUsage.newBuilder()
                        .setTotal(size).setUnit(dev.pmemcsi.csi.v1.VolumeUsage.Unit.BYTES));
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

    private static dev.pmemcsi.csi.v1.VolumeUsage usage(long total, long available, long used,
                                                        dev.pmemcsi.csi.v1.VolumeUsage.Unit unit) {
        return dev.pmemcsi.csi.v1.VolumeUsage.newBuilder()
                .setTotal(total).setAvailable(available).setUsed(used).setUnit(unit).build();
    }

    // ------------------------------------------------------------------ VolumeUsage

    @Override
    public Optional<String> usage(String volumeId) {
        List<String> where = new ArrayList<>();
        for (Attachment a : state.all()) {
            // By the device's ID: kubelet's ID of an ephemeral volume may equal a persistent volume's.
            if (a.deviceId().equals(volumeId)) {
                where.add((a.kind() == Attachment.Kind.STAGED ? "staged at " : "published at ") + a.path());
            }
        }
        where.sort(null);
        return where.isEmpty() ? Optional.empty() : Optional.of(String.join(", ", where));
    }

    // ------------------------------------------------------------------ reconciliation

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

    /**
     * Deletes the volume an ephemeral publication created. Only a volume with an ephemeral ID
     * (see {@link VolumeIds#ephemeral}) is ever deleted: a record from before those IDs may name a
     * persistent volume that an ephemeral publish reused, whose data must survive.
     */
    private void deleteEphemeral(Attachment a) throws DeviceException {
        if (!VolumeIds.isEphemeral(a.deviceId())) {
            LOG.warn("ephemeral volume {} at {} uses volume {}, whose ID is not an ephemeral volume's; it is"
                    + " left in place", a.volumeId(), a.path(), a.deviceId());
            return;
        }
        devices.deleteVolume(a.deviceId(), a.eraseAfter());
        LOG.info("ephemeral volume {} (device {}) deleted{}", a.volumeId(), a.deviceId(),
                a.eraseAfter() ? " and erased" : "");
    }

    /** Unmounts, removes what the driver created, deletes an ephemeral volume, forgets the record. */
    private void tearDown(Attachment a, boolean removeTarget) throws Exception {
        unmountAll(a.realPath());
        if (removeTarget) {
            removeTarget(a.realPath());
        }
        if (a.ephemeral()) {
            deleteEphemeral(a);
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
            Optional<Volume> vol = devices.getVolume(a.deviceId());
            if (vol.isEmpty() || !Files.exists(vol.get().devicePath())) {
                LOG.error("{} of volume {} at {} is not mounted and its device is gone; left as it is",
                        a.kind(), a.volumeId(), a.path());
                return;
            }
            LOG.warn("{} of volume {} at {} is not mounted (host reboot?); restoring it", a.kind(), a.volumeId(), a.path());
            if (a.kind() == Attachment.Kind.STAGED || a.ephemeral()) {
                remount(a, vol.get());
            } else {
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
                    createFile(a.realPath());
                    mounter.bind(vol.get().devicePath(), a.realPath(), flags);
                }
            }
        } catch (Exception e) {
            LOG.error("cannot restore {} of volume {} at {}; the record stays", a.kind(), a.volumeId(), a.path(), e);
        } finally {
            MDC.remove("volume");
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

    // ------------------------------------------------------------------ helpers

    /**
     * Refuses a path that the records give to something else: another volume's staging or
     * publication, or a staging where a publication is asked for and the reverse.
     *
     * @param mine the records at the path that the request may find there (its own repeat)
     */
    private void requireUnused(String field, Path path, Path real, Predicate<Attachment> mine) {
        for (Attachment a : state.at(real)) {
            if (!mine.test(a)) {
                throw Status.FAILED_PRECONDITION.withDescription(field + " " + path + " is already "
                        + (a.kind() == Attachment.Kind.STAGED ? "the staging path" : "a publication target")
                        + " of volume " + a.volumeId()).asRuntimeException();
            }
        }
    }

    /**
     * For an unstage or unpublish whose volume has no record at the path: whether the path is
     * recorded as something else, which such a call must never unmount or remove. True (answered
     * OK, nothing done) when it belongs to another volume; FAILED_PRECONDITION when it is this
     * volume's staging path asked to be unpublished, or its publication asked to be unstaged.
     */
    private boolean recordedOtherwise(String field, String id, Path path, Path real) {
        List<Attachment> there = state.at(real);
        if (there.isEmpty()) {
            return false;
        }
        Attachment a = there.get(0);
        String what = a.kind() == Attachment.Kind.STAGED ? "the staging path" : "a publication target";
        if (a.volumeId().equals(id)) {
            throw Status.FAILED_PRECONDITION.withDescription(field + " " + path + " is " + what + " of volume " + id
                    + ", not " + (a.kind() == Attachment.Kind.STAGED ? "a publication; NodeUnstageVolume"
                    : "a staging; NodeUnpublishVolume") + " removes it").asRuntimeException();
        }
        LOG.info("{} {} is {} of volume {}, not of {}; nothing to do", field, path, what, a.volumeId(), id);
        return true;
    }

    /** Mounts a recorded staging (or ephemeral volume) again, as it was, without ever formatting. */
    private void remount(Attachment a, Volume vol) throws Exception {
        String field = a.kind() == Attachment.Kind.STAGED ? "staging_target_path" : "target_path";
        createDirectory(field, a.realPath());
        filesystems.mount(vol, a.fsType(), a.mountFlags(),
                a.readOnly() || a.accessMode().equals("SINGLE_NODE_READER_ONLY"), a.realPath(), false);
    }

    /**
     * Publishing binds the staging directory, so it must hold the volume's filesystem: binding the
     * bare directory would hand the pod the node's root disk. A staging mount that vanished (an
     * unmount behind the driver's back) is restored from the record; anything else mounted there
     * is refused.
     */
    private void requireStagingMount(Attachment stage, Volume vol, MountTable mounts) throws Exception {
        if (showsVolume(vol.devicePath(), Attachment.Access.MOUNT, stage.realPath(), mounts)) {
            return;
        }
        Optional<MountInfo> top = mounts.top(stage.realPath());
        if (top.isPresent()) {
            throw Status.FAILED_PRECONDITION.withDescription("staging path " + stage.path() + " of volume "
                    + stage.volumeId() + " has " + top.get().source() + " (" + top.get().fsType() + ") mounted,"
                    + " not the volume's filesystem; unstage and stage the volume again").asRuntimeException();
        }
        requireDevice(vol);
        LOG.warn("volume {} is recorded as staged at {}, but its filesystem is no longer mounted there;"
                + " mounting it again", stage.volumeId(), stage.path());
        remount(stage, vol);
    }

    /**
     * Whether {@code real} shows the volume whose block device is {@code device}: its filesystem
     * (mount access, directly or through a bind) or its device node bound onto a file (block).
     */
    private static boolean showsVolume(Path device, Attachment.Access access, Path real, MountTable mounts)
            throws IOException {
        Optional<MountInfo> top = mounts.top(real);
        if (top.isEmpty()) {
            return false;
        }
        DeviceNumber devNo;
        try {
            devNo = DeviceNumber.ofBlockDevice(device);
        } catch (NativeException e) {
            // The device node is gone: the mount table's record of it is the only witness left.
            return access == Attachment.Access.BLOCK ? top.get().root().equals("/" + device.getFileName())
                    : top.get().source().equals(device.toString());
        }
        if (access == Attachment.Access.MOUNT) {
            return devNo.matches(top.get());
        }
        try {
            return devNo.equals(DeviceNumber.ofBlockDevice(real));
        } catch (NativeException e) {
            return false;
        }
    }

    private static void awaitRecord(FutureTask<Void> record) throws IOException, InterruptedException {
        try {
            record.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw new IllegalStateException("writing the state record failed", e.getCause());
        }
    }

    /**
     * Whether the top mount at {@code real} is the filesystem of volume {@code id} (or of the
     * ephemeral volume kubelet calls {@code id}): a mount of the driver's own that lost its record,
     * e.g. with the state directory. Anything else mounted there is left alone.
     */
    private boolean holdsVolume(String id, Path real) throws IOException, DeviceException {
        Optional<MountInfo> top = MountTable.read().top(real);
        if (top.isEmpty()) {
            return false;
        }
        for (String deviceId : List.of(id, VolumeIds.ephemeral(id))) {
            if (!VolumeIds.isValid(deviceId)) {
                continue;
            }
            Optional<Volume> vol = devices.getVolume(deviceId);
            if (vol.isPresent()) {
                try {
                    if (DeviceNumber.ofBlockDevice(vol.get().devicePath()).matches(top.get())) {
                        return true;
                    }
                } catch (NativeException e) {
                    LOG.debug("device {} of volume {} cannot be examined: {}", vol.get().devicePath(), deviceId,
                            e.getMessage());
                }
            }
        }
        return false;
    }

    /** Unmounts everything stacked at {@code path}; returns how many mounts it removed. */
    private int unmountAll(Path path) throws IOException {
        int n = 0;
        while (MountTable.read().isMountPoint(path)) {
            if (n == MAX_STACKED_MOUNTS) {
                throw Status.INTERNAL.withDescription(path + " still has mounts after " + n + " unmounts")
                        .asRuntimeException();
            }
            try {
                mounter.unmount(path);
            } catch (NativeException e) {
                if (e.is(Errno.EINVAL)) {
                    // The kernel says nothing is mounted there (mountinfo saw it a moment ago: a race).
                    break;
                }
                throw FilesystemMounter.unmountFailed(path, e);
            }
            n++;
        }
        return n;
    }

    /** Removes a target after unmounting: an empty directory, or the empty file a block volume was bound to. */
    private static void removeTarget(Path path) throws IOException {
        if (!NodePaths.exists(path)) {
            return;
        }
        if (Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
            try {
                Files.delete(path);
            } catch (DirectoryNotEmptyException e) {
                throw Status.FAILED_PRECONDITION.withDescription("target " + path + " is not empty after"
                        + " unmounting; it is left in place").asRuntimeException();
            }
        } else if (Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS) && Files.size(path) == 0) {
            Files.delete(path);
        } else {
            throw Status.FAILED_PRECONDITION.withDescription("target " + path + " is neither an empty directory"
                    + " nor an empty file after unmounting; it is left in place").asRuntimeException();
        }
    }

    private void undoMount(Path real, Exception cause) {
        try {
            unmountAll(real);
        } catch (IOException | RuntimeException e) {
            cause.addSuppressed(e);
        }
    }

    private void forget(Attachment a, Exception cause) {
        try {
            state.remove(a);
        } catch (IOException e) {
            cause.addSuppressed(e);
        }
    }

    private static void removeQuietly(Path p, Exception cause) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            cause.addSuppressed(e);
        }
    }

    /** Refuses an existing path of the wrong type: a mount needs a directory, a block volume a file. */
    private static void requireType(String field, Path p, boolean directory) {
        if (!NodePaths.exists(p)) {
            return;
        }
        if (directory && !Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
            throw Status.FAILED_PRECONDITION.withDescription(field + " " + p + " exists and is not a directory")
                    .asRuntimeException();
        }
        if (!directory && !Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
            throw Status.FAILED_PRECONDITION.withDescription(field + " " + p + " exists and is not a file;"
                    + " a block volume is bound onto a file").asRuntimeException();
        }
    }

    private static boolean createDirectory(String field, Path p) throws IOException {
        if (NodePaths.exists(p)) {
            requireType(field, p, true);
            return false;
        }
        try {
            Files.createDirectory(p);
        } catch (NoSuchFileException e) {
            throw Status.FAILED_PRECONDITION.withDescription("the parent directory of " + field + " " + p
                    + " does not exist").asRuntimeException();
        }
        return true;
    }

    private static boolean createFile(Path p) throws IOException {
        if (NodePaths.exists(p)) {
            requireType("target_path", p, false);
            if (Files.size(p) != 0) {
                // Someone's data: binding over it would hide it, and unpublish could not remove it.
                throw Status.FAILED_PRECONDITION.withDescription("target_path " + p + " is a file that is not"
                        + " empty; a block volume is bound only onto a new or empty file").asRuntimeException();
            }
            return false;
        }
        Files.createFile(p);
        return true;
    }

    private Path resolve(String field, Path p) throws InvalidRequestException, IOException {
        try {
            return paths.resolve(field, p);
        } catch (NoSuchFileException e) {
            throw Status.FAILED_PRECONDITION.withDescription("the parent directory of " + field + " " + p
                    + " does not exist").asRuntimeException();
        }
    }

    /** The persistent volume {@code id}; an ephemeral volume is only ever published inline, by its pod. */
    private Volume volume(String id) throws DeviceException {
        if (VolumeIds.isEphemeral(id)) {
            throw Status.NOT_FOUND.withDescription("volume " + id + " is a CSI ephemeral inline volume, not a"
                    + " persistent volume; only its pod's inline volume publishes it").asRuntimeException();
        }
        return devices.getVolume(id).orElseThrow(() -> Status.NOT_FOUND.withDescription("volume " + id
                + " does not exist on node " + config.nodeId()).asRuntimeException());
    }

    private static void requireDevice(Volume vol) {
        if (!Files.exists(vol.devicePath())) {
            throw Status.FAILED_PRECONDITION.withDescription("the device " + vol.devicePath() + " of volume "
                    + vol.id() + " has disappeared").asRuntimeException();
        }
    }

    private VolumeLocks.Held lock(String id) {
        return locks.tryAcquire(id).orElseThrow(() -> RpcEdge.statusOf(OperationInProgressException.onVolume(id)).asRuntimeException());
    }

    private VolumeLocks.Held lockPath(String field, Path real) {
        return pathLocks.tryAcquire(real.toString()).orElseThrow(() -> Status.ABORTED.withDescription(
                "another operation on " + field + " " + real + " is in progress; retry later").asRuntimeException());
    }

    private static String require(String field, String value) throws InvalidRequestException {
        if (value == null || value.isEmpty()) {
            throw new InvalidRequestException(field + " must not be empty");
        }
        return value;
    }

    private static VolumeCapability capability(boolean present, VolumeCapability cap) throws InvalidRequestException {
        if (!present) {
            throw new InvalidRequestException("volume_capability must be set");
        }
        VolumeCapabilities.validate(cap);
        return cap;
    }

    private static Attachment.Access access(VolumeCapability cap) {
        return cap.hasBlock() ? Attachment.Access.BLOCK : Attachment.Access.MOUNT;
    }

    private static String fsType(VolumeCapability cap) {
        return cap.hasMount() ? VolumeCapabilities.fsType(cap) : "";
    }

    private static List<String> mountFlags(VolumeCapability cap) {
        return cap.hasMount() ? List.copyOf(cap.getMount().getMountFlagsList()) : List.of();
    }

    @FunctionalInterface
    private interface Call<T> {
        T run() throws Exception;
    }

    /** Runs one RPC with its MDC, and turns every failure into the status the CSI spec wants. */
    private <T> void serve(String method, String volumeId, StreamObserver<T> obs, Call<T> call) {
        MDC.put("method", method);
        if (!volumeId.isEmpty()) {
            MDC.put("volume", volumeId);
        }
        try {
            T response = call.run();
            obs.onNext(response);
            obs.onCompleted();
        } catch (Exception e) {
            StatusRuntimeException s = toStatus(e);
            if (s.getStatus().getCode() == Status.Code.INTERNAL) {
                LOG.error("{} failed: {}", method, s.getStatus().getDescription(), e);
            } else {
                LOG.info("{} refused: {} {}", method, s.getStatus().getCode(), s.getStatus().getDescription());
            }
            obs.onError(s);
        } finally {
            MDC.remove("method");
            MDC.remove("volume");
        }
    }

    private static StatusRuntimeException toStatus(Exception e) {
        if (e instanceof StatusRuntimeException s) {
            return s;
        }
        if (e instanceof InvalidRequestException ire) {
            return RpcEdge.statusOf(ire).asRuntimeException();
        }
        if (e instanceof DeviceException de) {
            return RpcEdge.statusOf(de).asRuntimeException();
        }
        if (e instanceof CommandFailedException cfe) {
            return Status.INTERNAL.withDescription(cfe.getMessage()).asRuntimeException();
        }
        if (e instanceof NativeException ne) {
            return (ne.is(Errno.ENOENT) ? Status.FAILED_PRECONDITION : Status.INTERNAL)
                    .withDescription(ne.getMessage()).asRuntimeException();
        }
        return Status.INTERNAL.withDescription(e.getClass().getSimpleName() + ": " + e.getMessage()).asRuntimeException();
    }

    /** For tests and diagnostics: the records. */
    NodeState state() {
        return state;
    }
}
