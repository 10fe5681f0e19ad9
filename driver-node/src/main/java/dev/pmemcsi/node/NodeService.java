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
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.driver.DriverConfig;
import dev.pmemcsi.driver.FilesystemFreezer;
import dev.pmemcsi.driver.NodeVolumeUse;
import dev.pmemcsi.driver.RpcEdge;
import dev.pmemcsi.driver.VolumeLocks;
import dev.pmemcsi.pmemnative.CommandRunner;
import dev.pmemcsi.pmemnative.mount.FilesystemProbe;
import dev.pmemcsi.pmemnative.mount.Filesystems;
import dev.pmemcsi.pmemnative.mount.Mounter;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The CSI Node service: puts PMEM volumes where pods can use them. Mount-access volumes are
 * formatted once (ext4 or xfs laid out for huge pages), mounted with DAX at the staging path, and
 * bind-mounted into each pod ({@link Staging}, {@link Publishing}); block-access volumes are
 * bind-mounted device nodes. CSI ephemeral inline volumes are created, formatted and mounted at the
 * target by NodePublishVolume and deleted by NodeUnpublishVolume ({@link EphemeralVolumes}).
 *
 * <p>Every staging and publication is recorded under the state directory ({@link NodeState})
 * before its mount is made, and every question about what is mounted is answered from
 * {@code /proc/self/mountinfo} ({@link MountPoints}). {@link #start()} compares the two after a
 * restart ({@link StartupRecovery}).
 *
 * <p>This class only answers gRPC: each call goes to its use case, and {@link RpcEdge} turns the
 * outcome into the response or the status. NodeExpandVolume grows a mounted filesystem
 * ({@link VolumeExpansion}) when the backend grows volumes; otherwise it answers UNIMPLEMENTED.
 */
public final class NodeService extends NodeGrpc.NodeImplBase implements NodeVolumeUse, FilesystemFreezer {

    private static final Logger LOG = LoggerFactory.getLogger(NodeService.class);

    private final DriverConfig config;
    private final NodeState state;
    private final StartupRecovery recovery;
    private final Staging staging;
    private final Publishing publishing;
    private final VolumeStats stats;
    private final VolumeExpansion expansion;
    private final Freezes freezes;

    /** @param paths where staging and target paths may lie; the state dir is kept out of them here */
    public NodeService(DriverConfig config, DeviceManager devices, VolumeLocks locks, Path stateDir,
                       NodePaths paths) throws IOException {
        this(config, devices, locks, stateDir, paths, OperationListener.NONE);
    }

    /** @param listener is told about every mkfs and filesystem mount */
    public NodeService(DriverConfig config, DeviceManager devices, VolumeLocks locks, Path stateDir,
                       NodePaths paths, OperationListener listener) throws IOException {
        this.config = config;
        this.state = new NodeState(stateDir);
        NodePaths confined = paths.reserving(stateDir);
        // Where read-only and other restricted publications are prepared (see Mounter.bind).
        Mounter mounter = new Mounter(stateDir.resolve("private-binds"));
        CommandRunner runner = new CommandRunner();
        Filesystems mkfs = new Filesystems(runner);
        FilesystemMounter filesystems = new FilesystemMounter(mounter, mkfs, FilesystemProbe.inProcess(runner), listener);
        OperationLocks operationLocks = new OperationLocks(locks);
        NodeVolumes volumes = new NodeVolumes(devices, config.nodeId());
        MountPoints mountPoints = new MountPoints(state, confined, mounter, filesystems, devices);
        EphemeralVolumes ephemeral = new EphemeralVolumes(state, devices, operationLocks, mountPoints, filesystems);
        this.recovery = new StartupRecovery(state, confined, mounter, devices, mountPoints, ephemeral);
        this.staging = new Staging(state, confined, operationLocks, volumes, mountPoints, filesystems);
        this.publishing = new Publishing(state, confined, operationLocks, volumes, mountPoints, mounter, ephemeral);
        this.stats = new VolumeStats(state, confined, devices);
        this.expansion = new VolumeExpansion(state, confined, operationLocks, devices, mkfs);
        this.freezes = new Freezes(state, confined, devices, stateDir.resolve("freezes"));
    }

    /** Loads the records and reconciles them with the mounts; see {@link StartupRecovery}. */
    public synchronized void start() throws IOException {
        // First: a filesystem a crash left frozen blocks the writers of every pod that uses it.
        int thawed = freezes.thawLeftovers();
        if (thawed > 0) {
            LOG.warn("thawed {} filesystem(s) that an interrupted snapshot or clone left frozen", thawed);
        }
        recovery.start();
    }

    @Override
    public void nodeGetInfo(NodeGetInfoRequest request, StreamObserver<NodeGetInfoResponse> obs) {
        RpcEdge.answer(obs, () -> NodeGetInfoResponse.newBuilder()
                .setNodeId(config.nodeId())
                .setMaxVolumesPerNode(config.maxVolumesPerNode())
                .setAccessibleTopology(Topology.newBuilder().putAllSegments(config.topologySegment()))
                .build());
    }

    @Override
    public void nodeGetCapabilities(NodeGetCapabilitiesRequest request, StreamObserver<NodeGetCapabilitiesResponse> obs) {
        RpcEdge.answer(obs, () -> {
            NodeGetCapabilitiesResponse.Builder b = NodeGetCapabilitiesResponse.newBuilder();
            List<NodeServiceCapability.RPC.Type> offered = new ArrayList<>(List.of(
                    NodeServiceCapability.RPC.Type.STAGE_UNSTAGE_VOLUME,
                    NodeServiceCapability.RPC.Type.GET_VOLUME_STATS,
                    NodeServiceCapability.RPC.Type.VOLUME_CONDITION,
                    NodeServiceCapability.RPC.Type.SINGLE_NODE_MULTI_WRITER));
            if (expansion.offered()) {
                offered.add(NodeServiceCapability.RPC.Type.EXPAND_VOLUME);
            }
            for (NodeServiceCapability.RPC.Type t : offered) {
                b.addCapabilities(NodeServiceCapability.newBuilder()
                        .setRpc(NodeServiceCapability.RPC.newBuilder().setType(t)));
            }
            return b.build();
        });
    }

    @Override
    public void nodeStageVolume(NodeStageVolumeRequest request, StreamObserver<NodeStageVolumeResponse> obs) {
        RpcEdge.answer(obs, () -> {
            staging.stage(request);
            return NodeStageVolumeResponse.getDefaultInstance();
        });
    }

    @Override
    public void nodeUnstageVolume(NodeUnstageVolumeRequest request, StreamObserver<NodeUnstageVolumeResponse> obs) {
        RpcEdge.answer(obs, () -> {
            staging.unstage(request);
            return NodeUnstageVolumeResponse.getDefaultInstance();
        });
    }

    @Override
    public void nodePublishVolume(NodePublishVolumeRequest request, StreamObserver<NodePublishVolumeResponse> obs) {
        RpcEdge.answer(obs, () -> {
            publishing.publish(request);
            return NodePublishVolumeResponse.getDefaultInstance();
        });
    }

    @Override
    public void nodeUnpublishVolume(NodeUnpublishVolumeRequest request, StreamObserver<NodeUnpublishVolumeResponse> obs) {
        RpcEdge.answer(obs, () -> {
            publishing.unpublish(request);
            return NodeUnpublishVolumeResponse.getDefaultInstance();
        });
    }

    @Override
    public void nodeGetVolumeStats(NodeGetVolumeStatsRequest request, StreamObserver<NodeGetVolumeStatsResponse> obs) {
        RpcEdge.answer(obs, () -> stats.stats(request));
    }

    @Override
    public void nodeExpandVolume(NodeExpandVolumeRequest request, StreamObserver<NodeExpandVolumeResponse> obs) {
        RpcEdge.answer(obs, () -> expansion.expand(request));
    }

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

    /** Freezes the volume's filesystem where it is staged, for a copy of its device; see {@link Freezes}. */
    @Override
    public Held hold(String volumeId, Duration limit) throws IOException,
            dev.pmemcsi.driver.PreconditionFailedException {
        return freezes.hold(volumeId, limit);
    }

    /** For tests and diagnostics: the records. */
    NodeState state() {
        return state;
    }
}
