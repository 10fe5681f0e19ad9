package dev.pmemcsi.reliability;

import dev.pmemcsi.app.client.Channels;
import dev.pmemcsi.csi.v1.CapacityRange;
import dev.pmemcsi.csi.v1.ControllerGrpc;
import dev.pmemcsi.csi.v1.CreateVolumeRequest;
import dev.pmemcsi.csi.v1.DeleteVolumeRequest;
import dev.pmemcsi.csi.v1.GetCapacityRequest;
import dev.pmemcsi.csi.v1.IdentityGrpc;
import dev.pmemcsi.csi.v1.ListVolumesRequest;
import dev.pmemcsi.csi.v1.ListVolumesResponse;
import dev.pmemcsi.csi.v1.NodeGrpc;
import dev.pmemcsi.csi.v1.NodePublishVolumeRequest;
import dev.pmemcsi.csi.v1.NodeStageVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnpublishVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnstageVolumeRequest;
import dev.pmemcsi.csi.v1.Volume;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.csi.v1.VolumeCapability.AccessMode.Mode;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** A CSI client over the driver's socket, with the requests the tests repeat. */
final class Csi implements AutoCloseable {

    static final long MIB = 1024L * 1024;

    private final Channels channels;

    Csi(String endpoint) {
        channels = Channels.open(endpoint);
    }

    IdentityGrpc.IdentityBlockingStub identity() {
        return IdentityGrpc.newBlockingStub(channels.channel()).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    ControllerGrpc.ControllerBlockingStub controller() {
        return ControllerGrpc.newBlockingStub(channels.channel()).withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    NodeGrpc.NodeBlockingStub node() {
        return NodeGrpc.newBlockingStub(channels.channel()).withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    static VolumeCapability mount(String fs, Mode mode) {
        return VolumeCapability.newBuilder()
                .setMount(VolumeCapability.MountVolume.newBuilder().setFsType(fs))
                .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(mode))
                .build();
    }

    static VolumeCapability mount() {
        return mount("ext4", Mode.SINGLE_NODE_WRITER);
    }

    static VolumeCapability block() {
        return VolumeCapability.newBuilder()
                .setBlock(VolumeCapability.BlockVolume.getDefaultInstance())
                .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(Mode.SINGLE_NODE_WRITER))
                .build();
    }

    static CreateVolumeRequest createRequest(String name, long requiredBytes, Map<String, String> params) {
        return CreateVolumeRequest.newBuilder()
                .setName(name)
                .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(requiredBytes))
                .addVolumeCapabilities(mount())
                .putAllParameters(params)
                .build();
    }

    Volume create(String name, long requiredBytes) {
        return controller().createVolume(createRequest(name, requiredBytes, Map.of())).getVolume();
    }

    void delete(String id) {
        controller().deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(id).build());
    }

    void stage(String id, Path staging, VolumeCapability cap) {
        node().nodeStageVolume(NodeStageVolumeRequest.newBuilder().setVolumeId(id)
                .setStagingTargetPath(staging.toString()).setVolumeCapability(cap).build());
    }

    void unstage(String id, Path staging) {
        node().nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(id)
                .setStagingTargetPath(staging.toString()).build());
    }

    void publish(String id, Path staging, Path target, VolumeCapability cap) {
        node().nodePublishVolume(NodePublishVolumeRequest.newBuilder().setVolumeId(id)
                .setStagingTargetPath(staging.toString()).setTargetPath(target.toString())
                .setVolumeCapability(cap).build());
    }

    static NodePublishVolumeRequest ephemeralRequest(String id, Path target, String size) {
        return NodePublishVolumeRequest.newBuilder().setVolumeId(id).setTargetPath(target.toString())
                .setVolumeCapability(mount())
                .putVolumeContext("csi.storage.k8s.io/ephemeral", "true")
                .putVolumeContext("csi.storage.k8s.io/pod.name", "pod-" + id)
                .putVolumeContext("size", size)
                .build();
    }

    void unpublish(String id, Path target) {
        node().nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder().setVolumeId(id)
                .setTargetPath(target.toString()).build());
    }

    /** Every volume, through all pages. */
    List<Volume> listAll() {
        List<Volume> all = new ArrayList<>();
        String token = "";
        do {
            ListVolumesResponse r = controller().listVolumes(ListVolumesRequest.newBuilder()
                    .setStartingToken(token).setMaxEntries(7).build());
            r.getEntriesList().forEach(e -> all.add(e.getVolume()));
            token = r.getNextToken();
        } while (!token.isEmpty());
        return all;
    }

    long available() {
        return controller().getCapacity(GetCapacityRequest.newBuilder().addVolumeCapabilities(mount()).build())
                .getAvailableCapacity();
    }

    /** The status code of a call: OK, or the code it failed with. */
    static Status.Code codeOf(Runnable call) {
        try {
            call.run();
            return Status.Code.OK;
        } catch (StatusRuntimeException e) {
            return e.getStatus().getCode();
        }
    }

    /** Retries a call the way kubelet and external-provisioner do: on ABORTED and UNAVAILABLE. */
    static <T> T retrying(java.util.function.Supplier<T> call) {
        for (int i = 0; ; i++) {
            try {
                return call.get();
            } catch (StatusRuntimeException e) {
                Status.Code c = e.getStatus().getCode();
                if ((c != Status.Code.ABORTED && c != Status.Code.UNAVAILABLE) || i >= 200) {
                    throw e;
                }
                try {
                    Thread.sleep(50);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
            }
        }
    }

    static void retrying(Runnable call) {
        retrying(() -> {
            call.run();
            return null;
        });
    }

    @Override
    public void close() {
        channels.close();
    }
}
