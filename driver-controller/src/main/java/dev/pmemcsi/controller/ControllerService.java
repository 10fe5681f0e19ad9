package dev.pmemcsi.controller;

import com.google.protobuf.Int64Value;
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
import dev.pmemcsi.csi.v1.Topology;
import dev.pmemcsi.csi.v1.ValidateVolumeCapabilitiesRequest;
import dev.pmemcsi.csi.v1.ValidateVolumeCapabilitiesResponse;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.csi.v1.VolumeCondition;
import dev.pmemcsi.device.Capacity;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceGoneException;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.FaultPoints;
import dev.pmemcsi.device.Volume;
import dev.pmemcsi.device.VolumeAccess;
import dev.pmemcsi.device.VolumeHealth;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.device.VolumeInUseException;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeNotFoundException;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.driver.OperationInProgressException;
import dev.pmemcsi.driver.RpcEdge;
import dev.pmemcsi.driver.DriverConfig;
import dev.pmemcsi.driver.InvalidRequestException;
import dev.pmemcsi.driver.VolumeCapabilities;
import dev.pmemcsi.driver.VolumeLocks;
import dev.pmemcsi.driver.VolumeParameters;
import dev.pmemcsi.driver.VolumeUsage;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * The CSI Controller service of one node. Every driver instance provisions only the PMEM of its
 * own node: external-provisioner runs next to it with {@code --node-deployment}, and the scheduler
 * learns where space is from GetCapacity.
 *
 * <p>Volume IDs are derived from CSI volume names ({@link VolumeIds#fromName}), so that a repeated
 * CreateVolume finds its volume by ID alone, even after a restart. Create and delete hold the
 * per-volume lock that the node service also takes; a second mutating call on the same volume gets
 * ABORTED. Read-only calls take no lock: a health probe must not fail because a delete is running.
 *
 * <p>Failures the caller can act on become a gRPC status here; anything else propagates and is
 * turned into INTERNAL by the server's interceptor.
 */
public final class ControllerService extends ControllerGrpc.ControllerImplBase {

    private static final Logger LOG = LoggerFactory.getLogger(ControllerService.class);

    /** What this service implements, and nothing more. */
    private static final List<Type> CAPABILITIES = List.of(
            Type.CREATE_DELETE_VOLUME,
            Type.LIST_VOLUMES,
            Type.GET_CAPACITY,
            Type.GET_VOLUME,
            Type.VOLUME_CONDITION,
            Type.SINGLE_NODE_MULTI_WRITER);

    /**
     * The shape of every ID {@link VolumeIds#fromName} derives. ListVolumes tokens are such IDs; a
     * token of another shape was not issued by this driver.
     */
    private static final Pattern DERIVED_ID = Pattern.compile("[a-z0-9]{1,6}-[0-9a-f]{56}");

    // Test-only crash points (see FaultPoints): the work is done but the caller has no answer,
    // so it will retry a call whose effect already exists.
    /** The volume exists; CreateVolume has not answered. */
    public static final String FAULT_CREATE_DONE = "controller.create.done";
    /** The volume is gone; DeleteVolume has not answered. */
    public static final String FAULT_DELETE_DONE = "controller.delete.done";

    private final DriverConfig config;
    private final DeviceManager devices;
    private final VolumeLocks locks;
    private final VolumeUsage usage;

    public ControllerService(DriverConfig config, DeviceManager devices, VolumeLocks locks, VolumeUsage usage) {
        this.config = Objects.requireNonNull(config, "config");
        this.devices = Objects.requireNonNull(devices, "devices");
        this.locks = Objects.requireNonNull(locks, "locks");
        this.usage = Objects.requireNonNull(usage, "usage");
    }

    /** One RPC's body: returns the response or throws a status. */
    @FunctionalInterface
    private interface Handler<T> {
        T handle() throws DeviceException, InvalidRequestException;
    }

    /**
     * Runs an RPC with its name (and volume, when known) in the MDC. Device and validation errors
     * become statuses; other exceptions propagate unchanged.
     */
    @SuppressWarnings("try") // the resources only need closing
    private <T> void serve(String method, String volume, StreamObserver<T> response, Handler<T> handler) {
        try (MDC.MDCCloseable m = MDC.putCloseable("method", method);
             MDC.MDCCloseable v = volume == null || volume.isEmpty() ? null : MDC.putCloseable("volume", volume)) {
            T result;
            try {
                result = handler.handle();
            } catch (InvalidRequestException e) {
                StatusRuntimeException s = RpcEdge.statusOf(e).asRuntimeException();
                logFailure(method, s);
                response.onError(s);
                return;
            } catch (DeviceException e) {
                StatusRuntimeException s = RpcEdge.statusOf(e).asRuntimeException();
                logFailure(method, s);
                response.onError(s);
                return;
            } catch (StatusRuntimeException e) {
                logFailure(method, e);
                response.onError(e);
                return;
            }
            response.onNext(result);
            response.onCompleted();
        }
    }

    private static void logFailure(String method, StatusRuntimeException e) {
        if (e.getStatus().getCode() == Status.Code.INTERNAL) {
            LOG.warn("{} failed: {}", method, e.getStatus().getDescription(), e.getCause());
        } else {
            LOG.info("{} failed: {} {}", method, e.getStatus().getCode(), e.getStatus().getDescription());
        }
    }

    // ---------------------------------------------------------------- CreateVolume

    @Override
    public void createVolume(CreateVolumeRequest req, StreamObserver<CreateVolumeResponse> response) {
        String name = req.getName();
        String id = name.isEmpty() ? null : VolumeIds.fromName(name);
        serve("CreateVolume", id, response, () -> create(req, id));
    }

    @SuppressWarnings("try") // the resources only need closing
    private CreateVolumeResponse create(CreateVolumeRequest req, String id)
            throws DeviceException, InvalidRequestException {
        if (id == null) {
            throw new InvalidRequestException("name must not be empty");
        }
        VolumeCapabilities.validate(req.getVolumeCapabilitiesList());
        VolumeAccess access = VolumeCapabilities.access(req.getVolumeCapabilitiesList());
        if (req.getMutableParametersCount() > 0) {
            throw new InvalidRequestException("mutable_parameters are not supported: this driver does not"
                    + " offer MODIFY_VOLUME; got " + req.getMutableParametersList().stream()
                    .map(CreateVolumeRequest.MutableParametersEntry::getKey).toList());
        }
        if (req.hasVolumeContentSource()) {
            throw new InvalidRequestException("volume_content_source is not supported: volumes cannot be"
                    + " created from a snapshot or cloned from another volume");
        }
        VolumeParameters params = VolumeParameters.parse(req.getParametersMap(), VolumeParameters.Origin.STORAGE_CLASS);
        SizeRange range = SizeRange.of(req.getCapacityRange());
        checkTopology(req);

        try (VolumeLocks.Held held = locks.tryAcquire(id).orElseThrow(() -> RpcEdge.statusOf(OperationInProgressException.onVolume(id)).asRuntimeException())) {
            Optional<Volume> existing = devices.getVolume(id);
            Volume volume;
            if (existing.isPresent()) {
                volume = existing.get();
                String conflict = conflict(volume, params, range, access);
                if (conflict != null) {
                    throw Status.ALREADY_EXISTS.withDescription("volume \"" + req.getName() + "\" (" + id
                            + ") already exists with " + conflict).asRuntimeException();
                }
                LOG.debug("volume exists and matches the request");
            } else {
                long required;
                try {
                    required = VolumeCapabilities.raiseToMinimum(req.getVolumeCapabilitiesList(), range.requiredBytes(),
                            range.limitBytes());
                } catch (VolumeCapabilities.SizeBelowMinimumException e) {
                    throw Status.OUT_OF_RANGE.withDescription(e.getMessage()).asRuntimeException();
                }
                volume = devices.createVolume(new VolumeRequest(id, required, range.limitBytes(),
                        params.mode(), params.eraseAfter(), params.asAttributes(), access));
                LOG.info("created volume for \"{}\": capacity {} bytes ({} usable), {} in {}, for {}", req.getName(),
                        volume.capacityBytes(), volume.usableBytes(), volume.mode(), volume.region(),
                        volume.access().describe());
                FaultPoints.reached(FAULT_CREATE_DONE);
            }
            return CreateVolumeResponse.newBuilder().setVolume(toCsi(volume)).build();
        }
    }

    /** Why an existing volume does not satisfy a repeated request, or null when it does. */
    private static String conflict(Volume volume, VolumeParameters params, SizeRange range, VolumeAccess access) {
        if (volume.mode() != params.mode()) {
            return "usage " + usage(volume.mode()) + ", not " + usage(params.mode());
        }
        if (volume.eraseAfter() != params.eraseAfter()) {
            return VolumeParameters.ERASE_AFTER + "=" + volume.eraseAfter() + ", not " + params.eraseAfter();
        }
        if (!volume.access().serves(access)) {
            return "a different use: created for " + volume.access().describe() + ", not for " + access.describe();
        }
        if (!range.admits(volume.capacityBytes())) {
            return "a capacity of " + volume.capacityBytes() + " bytes, outside the requested capacity_range [required "
                    + range.requiredBytes() + ", limit " + (range.limitBytes() == 0 ? "none" : range.limitBytes()) + "]";
        }
        return null;
    }

    private static String usage(VolumeMode mode) {
        return mode == VolumeMode.SECTOR ? "FileIO" : "AppDirect";
    }

    /**
     * This instance can only provision on its own node. A requisite topology is a demand: one of
     * its entries must name this node. Preferred topologies only order the requisite ones, so on
     * their own they never prevent creation here.
     */
    private void checkTopology(CreateVolumeRequest req) {
        if (!req.hasAccessibilityRequirements()) {
            return;
        }
        List<Topology> requisite = req.getAccessibilityRequirements().getRequisiteList();
        if (requisite.isEmpty() || requisite.stream().anyMatch(this::isThisNode)) {
            return;
        }
        List<String> named = requisite.stream()
                .map(t -> t.getSegmentsOrDefault(config.topologyKey(), "<no " + config.topologyKey() + ">"))
                .distinct().toList();
        throw Status.RESOURCE_EXHAUSTED.withDescription("accessibility_requirements exclude node \""
                + config.nodeId() + "\": requisite topology names " + named + "; this driver instance"
                + " provisions only its own node's PMEM").asRuntimeException();
    }

    private boolean isThisNode(Topology t) {
        return config.nodeId().equals(t.getSegmentsMap().get(config.topologyKey()));
    }

    // ---------------------------------------------------------------- DeleteVolume

    @Override
    public void deleteVolume(DeleteVolumeRequest req, StreamObserver<DeleteVolumeResponse> response) {
        String id = req.getVolumeId();
        serve("DeleteVolume", id, response, () -> delete(id));
    }

    @SuppressWarnings("try") // the resources only need closing
    private DeleteVolumeResponse delete(String id) throws DeviceException, InvalidRequestException {
        if (id.isEmpty()) {
            throw new InvalidRequestException("volume_id must not be empty");
        }
        if (!VolumeIds.isValid(id)) {
            // No volume can carry such an ID, so it is already gone.
            LOG.debug("volume ID is not one this driver creates; nothing to delete");
            return DeleteVolumeResponse.getDefaultInstance();
        }
        try (VolumeLocks.Held held = locks.tryAcquire(id).orElseThrow(() -> RpcEdge.statusOf(OperationInProgressException.onVolume(id)).asRuntimeException())) {
            Optional<Volume> volume = devices.getVolume(id);
            if (volume.isEmpty()) {
                // A delete that gave up half way (its device was still open) hides the volume but
                // still holds its space: the backend finishes it, with the erase it recorded then.
                // For an unknown ID this does nothing.
                devices.deleteVolume(id, false);
                LOG.debug("volume does not exist (any unfinished delete of it is finished now)");
                return DeleteVolumeResponse.getDefaultInstance();
            }
            Optional<String> where = usage.usage(id);
            if (where.isPresent()) {
                throw Status.FAILED_PRECONDITION.withDescription("volume " + id + " is still in use on node \""
                        + config.nodeId() + "\": " + where.get()).asRuntimeException();
            }
            try {
                devices.deleteVolume(id, volume.get().eraseAfter());
            } catch (VolumeInUseException e) {
                throw Status.FAILED_PRECONDITION.withDescription("volume " + id + " is still in use on node \""
                        + config.nodeId() + "\": " + e.getMessage()).withCause(e).asRuntimeException();
            }
            LOG.info("deleted volume{}", volume.get().eraseAfter() ? " and erased its data" : "");
            FaultPoints.reached(FAULT_DELETE_DONE);
            return DeleteVolumeResponse.getDefaultInstance();
        }
    }

    // ---------------------------------------------------------------- ValidateVolumeCapabilities

    @Override
    public void validateVolumeCapabilities(ValidateVolumeCapabilitiesRequest req,
                                           StreamObserver<ValidateVolumeCapabilitiesResponse> response) {
        String id = req.getVolumeId();
        serve("ValidateVolumeCapabilities", id, response, () -> validate(req));
    }

    private ValidateVolumeCapabilitiesResponse validate(ValidateVolumeCapabilitiesRequest req)
            throws DeviceException, InvalidRequestException {
        String id = req.getVolumeId();
        if (id.isEmpty()) {
            throw new InvalidRequestException("volume_id must not be empty");
        }
        if (req.getVolumeCapabilitiesCount() == 0) {
            throw new InvalidRequestException("volume_capabilities must not be empty");
        }
        Volume volume = findVolume(id);
        String problem = null;
        for (VolumeCapability cap : req.getVolumeCapabilitiesList()) {
            problem = VolumeCapabilities.problem(cap);
            if (problem != null) {
                break;
            }
        }
        if (problem == null) {
            try {
                VolumeAccess wanted = VolumeCapabilities.access(req.getVolumeCapabilitiesList());
                if (!volume.access().serves(wanted)) {
                    problem = "the volume was created for " + volume.access().describe() + ", not for " + wanted.describe();
                }
            } catch (InvalidRequestException e) {
                problem = e.getMessage();
            }
        }
        if (problem == null && req.getVolumeContextCount() > 0
                && !req.getVolumeContextMap().equals(VolumeParameters.contextOf(volume))) {
            problem = "volume_context " + req.getVolumeContextMap() + " does not match the volume's "
                    + VolumeParameters.contextOf(volume);
        }
        if (problem == null && req.getParametersCount() > 0) {
            problem = parametersProblem(volume, req.getParametersMap());
        }
        if (problem == null && req.getMutableParametersCount() > 0) {
            problem = "mutable_parameters are not supported";
        }
        if (problem != null) {
            return ValidateVolumeCapabilitiesResponse.newBuilder().setMessage(problem).build();
        }
        return ValidateVolumeCapabilitiesResponse.newBuilder()
                .setConfirmed(ValidateVolumeCapabilitiesResponse.Confirmed.newBuilder()
                        .putAllVolumeContext(req.getVolumeContextMap())
                        .addAllVolumeCapabilities(req.getVolumeCapabilitiesList())
                        .putAllParameters(req.getParametersMap()))
                .build();
    }

    private static String parametersProblem(Volume volume, Map<String, String> parameters) {
        VolumeParameters params;
        try {
            params = VolumeParameters.parse(parameters, VolumeParameters.Origin.STORAGE_CLASS);
        } catch (InvalidRequestException e) {
            return e.getMessage();
        }
        if (volume.mode() != params.mode()) {
            return "the volume has usage " + usage(volume.mode()) + ", not " + usage(params.mode());
        }
        if (volume.eraseAfter() != params.eraseAfter()) {
            return "the volume has " + VolumeParameters.ERASE_AFTER + "=" + volume.eraseAfter();
        }
        return null;
    }

    // ---------------------------------------------------------------- ListVolumes

    @Override
    public void listVolumes(ListVolumesRequest req, StreamObserver<ListVolumesResponse> response) {
        serve("ListVolumes", null, response, () -> list(req));
    }

    /**
     * Pages are ordered by volume ID, and a token is the last ID of the previous page. It stays
     * meaningful whatever is created or deleted in between: the next page starts after it.
     */
    private ListVolumesResponse list(ListVolumesRequest req) throws DeviceException, InvalidRequestException {
        if (req.getMaxEntries() < 0) {
            throw new InvalidRequestException("max_entries must not be negative: " + req.getMaxEntries());
        }
        String token = req.getStartingToken();
        if (!token.isEmpty() && !DERIVED_ID.matcher(token).matches()) {
            throw Status.ABORTED.withDescription("starting_token \"" + token
                    + "\" was not issued by this driver; start again without a token").asRuntimeException();
        }
        List<Volume> after = devices.listVolumes().stream()
                .filter(v -> !VolumeIds.isEphemeral(v.id()))
                .filter(v -> token.isEmpty() || v.id().compareTo(token) > 0)
                .sorted(Comparator.comparing(Volume::id))
                .toList();
        int max = req.getMaxEntries() == 0 ? Integer.MAX_VALUE : req.getMaxEntries();
        ListVolumesResponse.Builder out = ListVolumesResponse.newBuilder();
        int taken = 0;
        String last = null;
        for (Volume v : after) {
            if (taken == max) {
                break;
            }
            Optional<VolumeCondition> condition = condition(v.id());
            if (condition.isEmpty()) {
                continue; // deleted since it was listed
            }
            out.addEntries(ListVolumesResponse.Entry.newBuilder()
                    .setVolume(toCsi(v))
                    .setStatus(ListVolumesResponse.VolumeStatus.newBuilder().setVolumeCondition(condition.get())));
            taken++;
            last = v.id();
        }
        if (last != null && !after.get(after.size() - 1).id().equals(last)) {
            out.setNextToken(last);
        }
        return out.build();
    }

    // ---------------------------------------------------------------- ControllerGetVolume

    @Override
    public void controllerGetVolume(ControllerGetVolumeRequest req, StreamObserver<ControllerGetVolumeResponse> response) {
        String id = req.getVolumeId();
        serve("ControllerGetVolume", id, response, () -> getVolume(id));
    }

    private ControllerGetVolumeResponse getVolume(String id) throws DeviceException, InvalidRequestException {
        if (id.isEmpty()) {
            throw new InvalidRequestException("volume_id must not be empty");
        }
        Volume volume = findVolume(id);
        VolumeCondition condition = condition(id).orElseThrow(() -> notFound(id));
        return ControllerGetVolumeResponse.newBuilder()
                .setVolume(toCsi(volume))
                .setStatus(ControllerGetVolumeResponse.VolumeStatus.newBuilder().setVolumeCondition(condition))
                .build();
    }

    /** The volume's condition, or empty when the volume no longer exists. */
    private Optional<VolumeCondition> condition(String id) throws DeviceException {
        VolumeHealth health;
        try {
            health = devices.volumeHealth(id);
        } catch (VolumeNotFoundException e) {
            return Optional.empty();
        } catch (DeviceGoneException e) {
            health = new VolumeHealth(true, e.getMessage(), 0);
        } catch (DeviceException e) {
            // One unreadable volume must not hide the others from a listing.
            LOG.warn("health of volume {} could not be read", id, e);
            health = new VolumeHealth(true, "health could not be read: " + e.getMessage(), 0);
        }
        return Optional.of(VolumeCondition.newBuilder()
                .setAbnormal(health.abnormal())
                .setMessage(health.message())
                .build());
    }

    // ---------------------------------------------------------------- GetCapacity

    @Override
    public void getCapacity(GetCapacityRequest req, StreamObserver<GetCapacityResponse> response) {
        serve("GetCapacity", null, response, () -> capacity(req));
    }

    /**
     * Capacity in usable bytes of the requested mode. Other nodes' segments get 0: their PMEM is
     * theirs to report. So do capabilities no volume here can have: no storage satisfies them.
     */
    private GetCapacityResponse capacity(GetCapacityRequest req) throws DeviceException, InvalidRequestException {
        VolumeParameters params = VolumeParameters.parse(req.getParametersMap(), VolumeParameters.Origin.STORAGE_CLASS);
        for (VolumeCapability cap : req.getVolumeCapabilitiesList()) {
            if (!cap.hasAccessMode() || cap.getAccessTypeCase() == VolumeCapability.AccessTypeCase.ACCESSTYPE_NOT_SET) {
                throw new InvalidRequestException("volume capability needs an access_mode and a mount or block access type");
            }
        }
        if (req.hasAccessibleTopology() && req.getAccessibleTopology().getSegmentsCount() > 0
                && !isThisNode(req.getAccessibleTopology())) {
            LOG.debug("topology {} is not this node's", req.getAccessibleTopology().getSegmentsMap());
            return zeroCapacity();
        }
        for (VolumeCapability cap : req.getVolumeCapabilitiesList()) {
            String problem = VolumeCapabilities.problem(cap);
            if (problem != null) {
                LOG.debug("no capacity for an unsupported capability: {}", problem);
                return zeroCapacity();
            }
        }
        Capacity.Requestable r = devices.capacity().requestable(params.mode());
        return GetCapacityResponse.newBuilder()
                .setAvailableCapacity(r.availableBytes())
                .setMaximumVolumeSize(Int64Value.of(r.maxVolumeBytes()))
                .setMinimumVolumeSize(Int64Value.of(r.minVolumeBytes()))
                .build();
    }

    private static GetCapacityResponse zeroCapacity() {
        return GetCapacityResponse.newBuilder()
                .setAvailableCapacity(0)
                .setMaximumVolumeSize(Int64Value.of(0))
                .build();
    }

    // ---------------------------------------------------------------- ControllerGetCapabilities

    @Override
    public void controllerGetCapabilities(ControllerGetCapabilitiesRequest req,
                                          StreamObserver<ControllerGetCapabilitiesResponse> response) {
        serve("ControllerGetCapabilities", null, response, () -> {
            ControllerGetCapabilitiesResponse.Builder out = ControllerGetCapabilitiesResponse.newBuilder();
            for (Type t : CAPABILITIES) {
                out.addCapabilities(ControllerServiceCapability.newBuilder()
                        .setRpc(ControllerServiceCapability.RPC.newBuilder().setType(t)));
            }
            return out.build();
        });
    }

    // ---------------------------------------------------------------- not offered

    @Override
    public void controllerPublishVolume(ControllerPublishVolumeRequest req,
                                        StreamObserver<ControllerPublishVolumeResponse> response) {
        unimplemented(response, "ControllerPublishVolume: PMEM volumes are local to their node and need no attach step"
                + " (PUBLISH_UNPUBLISH_VOLUME is not offered)");
    }

    @Override
    public void controllerUnpublishVolume(ControllerUnpublishVolumeRequest req,
                                          StreamObserver<ControllerUnpublishVolumeResponse> response) {
        unimplemented(response, "ControllerUnpublishVolume: PMEM volumes are local to their node and need no detach"
                + " step (PUBLISH_UNPUBLISH_VOLUME is not offered)");
    }

    @Override
    public void createSnapshot(CreateSnapshotRequest req, StreamObserver<CreateSnapshotResponse> response) {
        unimplemented(response, "CreateSnapshot: snapshots are not supported (CREATE_DELETE_SNAPSHOT is not offered)");
    }

    @Override
    public void deleteSnapshot(DeleteSnapshotRequest req, StreamObserver<DeleteSnapshotResponse> response) {
        unimplemented(response, "DeleteSnapshot: snapshots are not supported (CREATE_DELETE_SNAPSHOT is not offered)");
    }

    @Override
    public void listSnapshots(ListSnapshotsRequest req, StreamObserver<ListSnapshotsResponse> response) {
        unimplemented(response, "ListSnapshots: snapshots are not supported (LIST_SNAPSHOTS is not offered)");
    }

    @Override
    public void getSnapshot(GetSnapshotRequest req, StreamObserver<GetSnapshotResponse> response) {
        unimplemented(response, "GetSnapshot: snapshots are not supported (GET_SNAPSHOT is not offered)");
    }

    @Override
    public void controllerExpandVolume(ControllerExpandVolumeRequest req,
                                       StreamObserver<ControllerExpandVolumeResponse> response) {
        unimplemented(response, "ControllerExpandVolume: volumes cannot be resized (EXPAND_VOLUME is not offered)");
    }

    @Override
    public void controllerModifyVolume(ControllerModifyVolumeRequest req,
                                       StreamObserver<ControllerModifyVolumeResponse> response) {
        unimplemented(response, "ControllerModifyVolume: volumes have no mutable parameters (MODIFY_VOLUME is not offered)");
    }

    private static void unimplemented(StreamObserver<?> response, String what) {
        response.onError(Status.UNIMPLEMENTED.withDescription(what).asRuntimeException());
    }

    // ---------------------------------------------------------------- helpers

    private Volume findVolume(String id) throws DeviceException {
        // CSI ephemeral inline volumes live and die with their pod on the node; they are no
        // volumes of the controller's.
        if (!VolumeIds.isValid(id) || VolumeIds.isEphemeral(id)) {
            throw notFound(id);
        }
        return devices.getVolume(id).orElseThrow(() -> notFound(id));
    }

    private static StatusRuntimeException notFound(String id) {
        return Status.NOT_FOUND.withDescription("volume " + id + " does not exist").asRuntimeException();
    }

    private dev.pmemcsi.csi.v1.Volume toCsi(Volume v) {
        return dev.pmemcsi.csi.v1.Volume.newBuilder()
                .setVolumeId(v.id())
                .setCapacityBytes(v.capacityBytes())
                .putAllVolumeContext(VolumeParameters.contextOf(v))
                .addAccessibleTopology(Topology.newBuilder().putAllSegments(config.topologySegment()))
                .build();
    }
}
