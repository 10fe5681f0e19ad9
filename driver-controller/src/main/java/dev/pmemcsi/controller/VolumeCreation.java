package dev.pmemcsi.controller;

import dev.pmemcsi.csi.v1.CreateVolumeRequest;
import dev.pmemcsi.csi.v1.CreateVolumeResponse;
import dev.pmemcsi.csi.v1.Topology;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.FaultPoints;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.VolumeAccess;
import dev.pmemcsi.device.VolumeExistsException;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.device.VolumeRequest;
import dev.pmemcsi.driver.InvalidRequestException;
import dev.pmemcsi.driver.NodeExcludedException;
import dev.pmemcsi.driver.OperationInProgressException;
import dev.pmemcsi.driver.VolumeCapabilities;
import dev.pmemcsi.driver.VolumeLocks;
import dev.pmemcsi.driver.VolumeParameters;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * CreateVolume: checks the request, then creates the volume, or returns the one a previous call
 * with the same name created when it satisfies this request.
 *
 * <p>The volume ID is derived from the name ({@link VolumeIds#fromName}), so a repeated call finds
 * its volume by ID alone, even after a restart. The call holds the volume's lock, which the node
 * service also takes: a second operation on the volume meanwhile is refused.
 */
final class VolumeCreation {

    private static final Logger LOG = LoggerFactory.getLogger(VolumeCreation.class);

    private final LocalNode node;
    private final DeviceManager devices;
    private final VolumeLocks locks;
    /** Restores and clones; null when this driver takes no snapshots. */
    private final VolumeSources sources;

    VolumeCreation(LocalNode node, DeviceManager devices, VolumeLocks locks, VolumeSources sources) {
        this.node = node;
        this.devices = devices;
        this.locks = locks;
        this.sources = sources;
    }

    /** What a valid request asks for; the size is the caller's, before a filesystem's minimum raises it. */
    private record Asked(String name, VolumeRequest request) {}

    @SuppressWarnings("try") // the lock only needs releasing
    CreateVolumeResponse create(CreateVolumeRequest req) throws Exception {
        Asked asked = check(req);
        String id = asked.request().volumeId();
        try (VolumeLocks.Held held = locks.acquire(id)) {
            if (sources != null && sources.concerns(req, id)) {
                VolumeSources.Made made = sources.create(req, asked.request(),
                        r -> createNew(req, new Asked(asked.name(), r)));
                dev.pmemcsi.csi.v1.Volume.Builder v = node.describe(made.volume()).toBuilder();
                if (made.source() != null) {
                    v.setContentSource(made.source());
                }
                return CreateVolumeResponse.newBuilder().setVolume(v).build();
            }
            Optional<PmemVolume> existing = devices.getVolume(id);
            PmemVolume volume = existing.isPresent()
                    ? satisfying(asked, existing.get())
                    : createNew(req, asked);
            return CreateVolumeResponse.newBuilder().setVolume(node.describe(volume)).build();
        }
    }

    /** The request as the device layer takes it, or why it is refused before any volume is looked at. */
    private Asked check(CreateVolumeRequest req) throws InvalidRequestException, NodeExcludedException {
        if (req.getName().isEmpty()) {
            throw new InvalidRequestException("name must not be empty");
        }
        VolumeCapabilities.validate(req.getVolumeCapabilitiesList());
        VolumeAccess access = VolumeCapabilities.access(req.getVolumeCapabilitiesList());
        if (req.getMutableParametersCount() > 0) {
            throw new InvalidRequestException("mutable_parameters are not supported: this driver does not"
                    + " offer MODIFY_VOLUME; got " + req.getMutableParametersList().stream()
                    .map(CreateVolumeRequest.MutableParametersEntry::getKey).toList());
        }
        if (req.hasVolumeContentSource() && sources == null) {
            throw new InvalidRequestException("volume_content_source is not supported: volumes cannot be"
                    + " created from a snapshot or cloned from another volume");
        }
        VolumeSources.validate(req);
        VolumeParameters params = VolumeParameters.parse(req.getParametersMap(), VolumeParameters.Origin.STORAGE_CLASS);
        SizeRange range = SizeRange.of(req.getCapacityRange());
        checkTopology(req);
        return new Asked(req.getName(), new VolumeRequest(VolumeIds.fromName(req.getName()), range.requiredBytes(),
                range.limitBytes(), params.mode(), params.eraseAfter(), params.asAttributes(), access));
    }

    /**
     * This instance can only provision on its own node. A requisite topology is a demand: one of
     * its entries must name this node. Preferred topologies only order the requisite ones, so on
     * their own they never prevent creation here.
     */
    private void checkTopology(CreateVolumeRequest req) throws NodeExcludedException {
        if (!req.hasAccessibilityRequirements()) {
            return;
        }
        List<Topology> requisite = req.getAccessibilityRequirements().getRequisiteList();
        if (requisite.isEmpty() || requisite.stream().anyMatch(node::isNamedBy)) {
            return;
        }
        List<String> named = requisite.stream()
                .map(t -> t.getSegmentsOrDefault(node.topologyKey(), "<no " + node.topologyKey() + ">"))
                .distinct().toList();
        throw new NodeExcludedException("accessibility_requirements exclude node \"" + node.id()
                + "\": requisite topology names " + named + "; this driver instance"
                + " provisions only its own node's PMEM");
    }

    /**
     * A repeated call: the volume it created answers it if {@link VolumeRequest#mismatch} finds
     * nothing against it. The refusal names the volume's parameters as a StorageClass spells them.
     */
    private static PmemVolume satisfying(Asked asked, PmemVolume existing) throws VolumeExistsException {
        Optional<String> mismatch = asked.request().mismatch(existing);
        if (mismatch.isPresent()) {
            throw new VolumeExistsException("volume \"" + asked.name() + "\" (" + existing.id()
                    + ") already exists with " + mismatch.get() + "; its parameters are "
                    + VolumeParameters.contextOf(existing));
        }
        LOG.debug("volume exists and matches the request");
        return existing;
    }

    private PmemVolume createNew(CreateVolumeRequest req, Asked asked) throws DeviceException {
        VolumeRequest r = asked.request();
        long required = VolumeCapabilities.raiseToMinimum(req.getVolumeCapabilitiesList(), r.requiredBytes(),
                r.limitBytes());
        PmemVolume volume = devices.createVolume(new VolumeRequest(r.volumeId(), required, r.limitBytes(), r.mode(),
                r.eraseAfter(), r.attributes(), r.access()));
        LOG.info("created volume {} for \"{}\": capacity {} bytes ({} usable), {} in {}, for {}", volume.id(),
                asked.name(), volume.capacityBytes(), volume.usableBytes(), volume.mode(), volume.region(),
                volume.access().describe());
        FaultPoints.reached(ControllerService.FAULT_CREATE_DONE);
        return volume;
    }
}
