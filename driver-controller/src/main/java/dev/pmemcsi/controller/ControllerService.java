package dev.pmemcsi.controller;

import dev.pmemcsi.csi.v1.ControllerExpandVolumeRequest;
import dev.pmemcsi.csi.v1.ControllerExpandVolumeResponse;
import dev.pmemcsi.csi.v1.ControllerGetCapabilitiesRequest;
import dev.pmemcsi.csi.v1.ControllerGetCapabilitiesResponse;
import dev.pmemcsi.csi.v1.ControllerGetVolumeRequest;
import dev.pmemcsi.csi.v1.ControllerGetVolumeResponse;
import dev.pmemcsi.csi.v1.ControllerGrpc;
import dev.pmemcsi.csi.v1.ControllerModifyVolumeRequest;
import dev.pmemcsi.csi.v1.ControllerModifyVolumeResponse;
import dev.pmemcsi.csi.v1.ControllerPublishVolumeRequest;
import dev.pmemcsi.csi.v1.ControllerPublishVolumeResponse;
import dev.pmemcsi.csi.v1.ControllerServiceCapability;
import dev.pmemcsi.csi.v1.ControllerServiceCapability.RPC.Type;
import dev.pmemcsi.csi.v1.ControllerUnpublishVolumeRequest;
import dev.pmemcsi.csi.v1.ControllerUnpublishVolumeResponse;
import dev.pmemcsi.csi.v1.CreateSnapshotRequest;
import dev.pmemcsi.csi.v1.CreateSnapshotResponse;
import dev.pmemcsi.csi.v1.CreateVolumeRequest;
import dev.pmemcsi.csi.v1.CreateVolumeResponse;
import dev.pmemcsi.csi.v1.DeleteSnapshotRequest;
import dev.pmemcsi.csi.v1.DeleteSnapshotResponse;
import dev.pmemcsi.csi.v1.DeleteVolumeRequest;
import dev.pmemcsi.csi.v1.DeleteVolumeResponse;
import dev.pmemcsi.csi.v1.GetCapacityRequest;
import dev.pmemcsi.csi.v1.GetCapacityResponse;
import dev.pmemcsi.csi.v1.GetSnapshotRequest;
import dev.pmemcsi.csi.v1.GetSnapshotResponse;
import dev.pmemcsi.csi.v1.ListSnapshotsRequest;
import dev.pmemcsi.csi.v1.ListSnapshotsResponse;
import dev.pmemcsi.csi.v1.ListVolumesRequest;
import dev.pmemcsi.csi.v1.ListVolumesResponse;
import dev.pmemcsi.csi.v1.ValidateVolumeCapabilitiesRequest;
import dev.pmemcsi.csi.v1.ValidateVolumeCapabilitiesResponse;
import dev.pmemcsi.controller.snapshot.SnapshotConfig;
import dev.pmemcsi.controller.snapshot.SnapshotStore;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.controller.snapshot.RestoreJournal;
import dev.pmemcsi.driver.DriverConfig;
import dev.pmemcsi.driver.NodeVolumeUse;
import dev.pmemcsi.driver.NotOfferedException;
import dev.pmemcsi.driver.RpcEdge;
import dev.pmemcsi.driver.VolumeLocks;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The CSI Controller service of one node. Every driver instance provisions only the PMEM of its
 * own node: external-provisioner runs next to it with {@code --node-deployment}, and the scheduler
 * learns where space is from GetCapacity.
 *
 * <p>This class only connects gRPC to the use cases ({@link VolumeCreation}, {@link VolumeDeletion},
 * {@link VolumeListing}, {@link CapabilityValidation}, {@link CapacityReport},
 * {@link VolumeExpansion}, and with snapshots {@link SnapshotCreation}, {@link SnapshotDeletion},
 * {@link SnapshotListing} and {@link VolumeSources}); they throw typed exceptions, and {@link RpcEdge}
 * turns them into the status codes of the CSI spec. The server's interceptor logs and times every call.
 */
public final class ControllerService extends ControllerGrpc.ControllerImplBase {

    private static final Logger LOG = LoggerFactory.getLogger(ControllerService.class);

    /** Offered when the driver takes snapshots (a snapshot directory is configured). */
    private static final List<Type> SNAPSHOT_CAPABILITIES = List.of(
            Type.CREATE_DELETE_SNAPSHOT,
            Type.LIST_SNAPSHOTS,
            Type.CLONE_VOLUME);

    /** What this service implements, and nothing more; EXPAND_VOLUME joins when the backend grows volumes. */
    private static final List<Type> CAPABILITIES = List.of(
            Type.CREATE_DELETE_VOLUME,
            Type.LIST_VOLUMES,
            Type.GET_CAPACITY,
            Type.GET_VOLUME,
            Type.VOLUME_CONDITION,
            Type.SINGLE_NODE_MULTI_WRITER);

    // Test-only crash points (see FaultPoints): the work is done but the caller has no answer,
    // so it will retry a call whose effect already exists.
    /** The volume exists; CreateVolume has not answered. */
    public static final String FAULT_CREATE_DONE = "controller.create.done";
    /** The volume is gone; DeleteVolume has not answered. */
    public static final String FAULT_DELETE_DONE = "controller.delete.done";
    /** The snapshot is complete and durable; CreateSnapshot has not answered. */
    public static final String FAULT_SNAPSHOT_DONE = "controller.snapshot.done";

    private final VolumeCreation creation;
    private final VolumeDeletion deletion;
    private final VolumeListing listing;
    private final CapabilityValidation validation;
    private final CapacityReport capacity;
    private final VolumeExpansion expansion;
    private final DeviceManager devices;
    /** Null when the driver takes no snapshots; the snapshot use cases are null then too. */
    private final Snapshots snapshots;
    private final SnapshotCreation snapshotCreation;
    private final SnapshotDeletion snapshotDeletion;
    private final SnapshotListing snapshotListing;

    /**
     * A controller without snapshots, restores or clones.
     *
     * @param locks the per-volume locks the node service shares
     * @param use   whether a volume is in use on this node, asked before deleting or growing it
     */
    public ControllerService(DriverConfig config, DeviceManager devices, VolumeLocks locks, NodeVolumeUse use) {
        this(config, devices, locks, use, null, OperationListener.NONE);
    }

    /**
     * @param snapshotConfig where snapshots live and how volumes are held still for a copy; null
     *                       for a controller without snapshots
     * @param listener       is told about every snapshot, restore and clone copy
     */
    public ControllerService(DriverConfig config, DeviceManager devices, VolumeLocks locks, NodeVolumeUse use,
                             SnapshotConfig snapshotConfig, OperationListener listener) {
        LocalNode node = new LocalNode(Objects.requireNonNull(config, "config"));
        Objects.requireNonNull(devices, "devices");
        Objects.requireNonNull(locks, "locks");
        Objects.requireNonNull(use, "use");
        this.devices = devices;
        this.snapshots = snapshotConfig == null ? null : new Snapshots(snapshotConfig, listener);
        VolumeSources sources = snapshots == null ? null : new VolumeSources(node, devices, locks, snapshots);
        this.snapshotCreation = snapshots == null ? null : new SnapshotCreation(node, devices, locks, snapshots);
        this.snapshotDeletion = snapshots == null ? null : new SnapshotDeletion(node, snapshots);
        this.snapshotListing = snapshots == null ? null : new SnapshotListing(snapshots);
        this.creation = new VolumeCreation(node, devices, locks, sources);
        this.deletion = new VolumeDeletion(node, devices, locks, use, snapshots == null ? null : snapshots.journal);
        this.listing = new VolumeListing(node, devices,
                sources == null ? id -> Optional.empty() : sources::sourceOf);
        this.validation = new CapabilityValidation(listing);
        this.capacity = new CapacityReport(node, devices);
        this.expansion = new VolumeExpansion(node, devices, locks, use);
    }

    /**
     * Loads the snapshots and finishes what a crash interrupted: temporaries and images without
     * metadata are removed, a copied filesystem left mounted privately is unmounted, and volumes
     * whose copy did not finish are deleted. Runs after the device layer has started.
     */
    public void start() throws IOException, DeviceException {
        if (snapshots == null) {
            return;
        }
        snapshots.store.start();
        snapshots.journal.load();
        int released = snapshots.filesystems.releaseLeftovers();
        if (released > 0) {
            LOG.warn("unmounted {} copied filesystem(s) that an interrupted restore left mounted", released);
        }
        for (RestoreJournal.Entry e : snapshots.journal.unfinished()) {
            Optional<PmemVolume> v = devices.getVolume(e.volumeId());
            LOG.warn("volume {} holds an unfinished copy of {} {}; deleting it{}", e.volumeId(),
                    e.kind().name().toLowerCase(java.util.Locale.ROOT), e.sourceId(),
                    v.isPresent() ? "" : " (it was not created)");
            snapshots.discardVolume(devices, e.volumeId());
            snapshots.journal.forget(e.volumeId());
        }
    }

    /** The snapshot store, for metrics; empty when the driver takes no snapshots. */
    public Optional<SnapshotStore> snapshotStore() {
        return snapshots == null ? Optional.empty() : Optional.of(snapshots.store);
    }

    @Override
    public void createVolume(CreateVolumeRequest req, StreamObserver<CreateVolumeResponse> response) {
        RpcEdge.answer(response, () -> creation.create(req));
    }

    @Override
    public void deleteVolume(DeleteVolumeRequest req, StreamObserver<DeleteVolumeResponse> response) {
        RpcEdge.answer(response, () -> deletion.delete(req.getVolumeId()));
    }

    @Override
    public void validateVolumeCapabilities(ValidateVolumeCapabilitiesRequest req,
                                           StreamObserver<ValidateVolumeCapabilitiesResponse> response) {
        RpcEdge.answer(response, () -> validation.validate(req));
    }

    @Override
    public void listVolumes(ListVolumesRequest req, StreamObserver<ListVolumesResponse> response) {
        RpcEdge.answer(response, () -> listing.list(req));
    }

    @Override
    public void controllerGetVolume(ControllerGetVolumeRequest req, StreamObserver<ControllerGetVolumeResponse> response) {
        RpcEdge.answer(response, () -> listing.get(req.getVolumeId()));
    }

    @Override
    public void getCapacity(GetCapacityRequest req, StreamObserver<GetCapacityResponse> response) {
        RpcEdge.answer(response, () -> capacity.capacity(req));
    }

    @Override
    public void controllerGetCapabilities(ControllerGetCapabilitiesRequest req,
                                          StreamObserver<ControllerGetCapabilitiesResponse> response) {
        RpcEdge.answer(response, () -> {
            ControllerGetCapabilitiesResponse.Builder out = ControllerGetCapabilitiesResponse.newBuilder();
            List<Type> offered = new ArrayList<>(CAPABILITIES);
            if (expansion.offered()) {
                offered.add(Type.EXPAND_VOLUME);
            }
            if (snapshots != null) {
                offered.addAll(SNAPSHOT_CAPABILITIES);
            }
            for (Type t : offered) {
                out.addCapabilities(ControllerServiceCapability.newBuilder()
                        .setRpc(ControllerServiceCapability.RPC.newBuilder().setType(t)));
            }
            return out.build();
        });
    }

    // The calls of capabilities not offered. The generated base class would answer UNIMPLEMENTED
    // too, but naming only the method; these say why the capability is missing.

    @Override
    public void controllerPublishVolume(ControllerPublishVolumeRequest req,
                                        StreamObserver<ControllerPublishVolumeResponse> response) {
        notOffered(response, "ControllerPublishVolume: PMEM volumes are local to their node and need no attach step"
                + " (PUBLISH_UNPUBLISH_VOLUME is not offered)");
    }

    @Override
    public void controllerUnpublishVolume(ControllerUnpublishVolumeRequest req,
                                          StreamObserver<ControllerUnpublishVolumeResponse> response) {
        notOffered(response, "ControllerUnpublishVolume: PMEM volumes are local to their node and need no detach"
                + " step (PUBLISH_UNPUBLISH_VOLUME is not offered)");
    }

    @Override
    public void createSnapshot(CreateSnapshotRequest req, StreamObserver<CreateSnapshotResponse> response) {
        if (snapshots == null) {
            notOffered(response, "CreateSnapshot: snapshots are not supported (CREATE_DELETE_SNAPSHOT is not offered)");
            return;
        }
        RpcEdge.answer(response, () -> snapshotCreation.create(req));
    }

    @Override
    public void deleteSnapshot(DeleteSnapshotRequest req, StreamObserver<DeleteSnapshotResponse> response) {
        if (snapshots == null) {
            notOffered(response, "DeleteSnapshot: snapshots are not supported (CREATE_DELETE_SNAPSHOT is not offered)");
            return;
        }
        RpcEdge.answer(response, () -> snapshotDeletion.delete(req.getSnapshotId()));
    }

    @Override
    public void listSnapshots(ListSnapshotsRequest req, StreamObserver<ListSnapshotsResponse> response) {
        if (snapshots == null) {
            notOffered(response, "ListSnapshots: snapshots are not supported (LIST_SNAPSHOTS is not offered)");
            return;
        }
        RpcEdge.answer(response, () -> snapshotListing.list(req));
    }

    @Override
    public void getSnapshot(GetSnapshotRequest req, StreamObserver<GetSnapshotResponse> response) {
        notOffered(response, "GetSnapshot: snapshots are not supported (GET_SNAPSHOT is not offered)");
    }

    @Override
    public void controllerExpandVolume(ControllerExpandVolumeRequest req,
                                       StreamObserver<ControllerExpandVolumeResponse> response) {
        RpcEdge.answer(response, () -> expansion.expand(req));
    }

    @Override
    public void controllerModifyVolume(ControllerModifyVolumeRequest req,
                                       StreamObserver<ControllerModifyVolumeResponse> response) {
        notOffered(response, "ControllerModifyVolume: volumes have no mutable parameters (MODIFY_VOLUME is not offered)");
    }

    private static <T> void notOffered(StreamObserver<T> response, String why) {
        RpcEdge.answer(response, () -> {
            throw new NotOfferedException(why);
        });
    }
}
