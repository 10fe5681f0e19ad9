package dev.pmemcsi.bench;

import dev.pmemcsi.app.client.Channels;
import dev.pmemcsi.csi.v1.CapacityRange;
import dev.pmemcsi.csi.v1.ControllerGrpc;
import dev.pmemcsi.csi.v1.CreateSnapshotRequest;
import dev.pmemcsi.csi.v1.CreateVolumeRequest;
import dev.pmemcsi.csi.v1.DeleteSnapshotRequest;
import dev.pmemcsi.csi.v1.DeleteVolumeRequest;
import dev.pmemcsi.csi.v1.GetCapacityRequest;
import dev.pmemcsi.csi.v1.GetCapacityResponse;
import dev.pmemcsi.csi.v1.IdentityGrpc;
import dev.pmemcsi.csi.v1.NodeGrpc;
import dev.pmemcsi.csi.v1.NodePublishVolumeRequest;
import dev.pmemcsi.csi.v1.NodeStageVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnpublishVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnstageVolumeRequest;
import dev.pmemcsi.csi.v1.ProbeRequest;
import dev.pmemcsi.csi.v1.Topology;
import dev.pmemcsi.csi.v1.Volume;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.csi.v1.VolumeContentSource;
import dev.pmemcsi.driver.DriverConfig;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A CSI client over the driver's Unix socket, as kubelet and the sidecars are: the calls a
 * volume's life consists of, each with a deadline so a stuck driver fails a scenario instead of
 * hanging it.
 */
final class CsiClient implements AutoCloseable {

    static final String NODE_ID = "bench-node";
    private static final long DEADLINE_SECONDS = 300;

    private final ManagedChannel channel;
    /** Closed with the client unless it is shared with other clients. */
    private final Channels owned;
    private final VolumeCapability capability;
    private final GetCapacityRequest capacityRequest;

    private CsiClient(ManagedChannel channel, Channels owned, String fsType) {
        this.channel = channel;
        this.owned = owned;
        this.capability = VolumeCapability.newBuilder()
                .setAccessMode(VolumeCapability.AccessMode.newBuilder()
                        .setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER))
                .setMount(VolumeCapability.MountVolume.newBuilder().setFsType(fsType))
                .build();
        // What the external-provisioner asks for each StorageClass and node.
        this.capacityRequest = GetCapacityRequest.newBuilder()
                .addVolumeCapabilities(capability)
                .setAccessibleTopology(Topology.newBuilder().putSegments(DriverConfig.DEFAULT_DRIVER_NAME + "/node", NODE_ID))
                .build();
    }

    static CsiClient open(String endpoint) {
        return open(endpoint, "ext4");
    }

    static CsiClient open(String endpoint, String fsType) {
        Channels channels = Channels.open(endpoint);
        return new CsiClient(channels.channel(), channels, fsType);
    }

    /**
     * A client with its own connection whose I/O runs on a shared event loop: many callers in one
     * process then cost the two cores one I/O thread, not one each.
     */
    static CsiClient open(String endpoint, EventLoopGroup sharedLoop) {
        if (!endpoint.startsWith("unix://")) {
            throw new IllegalArgumentException("not a Unix socket endpoint: " + endpoint);
        }
        ManagedChannel ch = NettyChannelBuilder.forAddress(new DomainSocketAddress(endpoint.substring("unix://".length())))
                .channelType(EpollDomainSocketChannel.class)
                .eventLoopGroup(sharedLoop)
                .directExecutor()
                .usePlaintext()
                .build();
        return new CsiClient(ch, null, "ext4");
    }

    private IdentityGrpc.IdentityBlockingStub identity() {
        return IdentityGrpc.newBlockingStub(channel).withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS);
    }

    private ControllerGrpc.ControllerBlockingStub controller() {
        return ControllerGrpc.newBlockingStub(channel).withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS);
    }

    private NodeGrpc.NodeBlockingStub node() {
        return NodeGrpc.newBlockingStub(channel).withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS);
    }

    /** Probe; false while the driver is still starting or the socket is not answering yet. */
    boolean probeReady() {
        try {
            return identity().probe(ProbeRequest.getDefaultInstance()).getReady().getValue();
        } catch (StatusRuntimeException e) {
            return false;
        }
    }

    /** Probe that must succeed: for latency measurements. */
    void probe() {
        identity().probe(ProbeRequest.getDefaultInstance());
    }

    GetCapacityResponse capacity() {
        return controller().getCapacity(capacityRequest);
    }

    /** CreateVolume; returns the volume ID. */
    String create(String name, long bytes, Map<String, String> parameters) {
        return createVolume(name, bytes, parameters).getVolumeId();
    }

    Volume createVolume(String name, long bytes, Map<String, String> parameters) {
        return controller().createVolume(CreateVolumeRequest.newBuilder()
                .setName(name)
                .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(bytes))
                .addVolumeCapabilities(capability)
                .putAllParameters(parameters)
                .build()).getVolume();
    }

    /** CreateVolume restored from a snapshot; returns the volume ID. */
    String restore(String name, long bytes, String snapshotId) {
        return controller().createVolume(CreateVolumeRequest.newBuilder()
                .setName(name)
                .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(bytes))
                .addVolumeCapabilities(capability)
                .setVolumeContentSource(VolumeContentSource.newBuilder()
                        .setSnapshot(VolumeContentSource.SnapshotSource.newBuilder().setSnapshotId(snapshotId)))
                .build()).getVolume().getVolumeId();
    }

    /** CreateSnapshot; returns the snapshot ID. */
    String snapshot(String name, String sourceVolumeId) {
        return controller().createSnapshot(CreateSnapshotRequest.newBuilder().setName(name)
                .setSourceVolumeId(sourceVolumeId).build()).getSnapshot().getSnapshotId();
    }

    void deleteSnapshot(String snapshotId) {
        controller().deleteSnapshot(DeleteSnapshotRequest.newBuilder().setSnapshotId(snapshotId).build());
    }

    void stage(String volumeId, Path staging) {
        node().nodeStageVolume(NodeStageVolumeRequest.newBuilder().setVolumeId(volumeId)
                .setStagingTargetPath(staging.toString()).setVolumeCapability(capability).build());
    }

    void publish(String volumeId, Path staging, Path target) {
        node().nodePublishVolume(NodePublishVolumeRequest.newBuilder().setVolumeId(volumeId)
                .setStagingTargetPath(staging.toString()).setTargetPath(target.toString())
                .setVolumeCapability(capability).build());
    }

    void unpublish(String volumeId, Path target) {
        node().nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder().setVolumeId(volumeId)
                .setTargetPath(target.toString()).build());
    }

    void unstage(String volumeId, Path staging) {
        node().nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(volumeId)
                .setStagingTargetPath(staging.toString()).build());
    }

    void delete(String volumeId) {
        controller().deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(volumeId).build());
    }

    /**
     * A volume's whole life as a pod sees it: created, staged, published, written (and flushed),
     * unpublished, unstaged and deleted. {@code podDir} plays kubelet's pod directory.
     */
    void lifecycle(String name, long bytes, long writeBytes, Path podDir) throws IOException {
        String id = create(name, bytes, Map.of());
        Path staging = podDir.resolve("staging");
        Path target = podDir.resolve("mount");
        stage(id, staging);
        publish(id, staging, target);
        write(target.resolve("data"), writeBytes);
        unpublish(id, target);
        unstage(id, staging);
        delete(id);
    }

    /** Writes {@code bytes} of non-zero data and flushes them to the device. */
    static void write(Path file, long bytes) throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
        while (buf.hasRemaining()) {
            buf.put((byte) 0x5a);
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            for (long done = 0; done < bytes; ) {
                buf.clear().limit((int) Math.min(buf.capacity(), bytes - done));
                done += ch.write(buf);
            }
            ch.force(true);
        }
    }

    @Override
    public void close() {
        if (owned != null) {
            owned.close();
            return;
        }
        channel.shutdownNow();
        try {
            channel.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
