package dev.pmemcsi.controller;

import dev.pmemcsi.csi.v1.ControllerGetVolumeResponse;
import dev.pmemcsi.csi.v1.ListVolumesRequest;
import dev.pmemcsi.csi.v1.ListVolumesResponse;
import dev.pmemcsi.csi.v1.Volume;
import dev.pmemcsi.csi.v1.VolumeCondition;
import dev.pmemcsi.csi.v1.VolumeContentSource;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceGoneException;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.VolumeHealth;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.device.VolumeNotFoundException;
import dev.pmemcsi.driver.InvalidRequestException;
import dev.pmemcsi.driver.InvalidStartingTokenException;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * ListVolumes and ControllerGetVolume: the controller's volumes with their condition. They only
 * read and take no lock, so a health probe never fails because a delete is running.
 */
final class VolumeListing {

    private static final Logger LOG = LoggerFactory.getLogger(VolumeListing.class);

    /**
     * The shape of every ID {@link VolumeIds#fromName} derives. ListVolumes tokens are such IDs; a
     * token of another shape was not issued by this driver.
     */
    private static final Pattern DERIVED_ID = Pattern.compile("[a-z0-9]{1,6}-[0-9a-f]{56}");

    private final LocalNode node;
    private final DeviceManager devices;
    private final Function<String, Optional<VolumeContentSource>> sources;

    /**
     * @param sources where a volume's content came from, for restored and cloned volumes, so that a
     *                listing says what CreateVolume said
     */
    VolumeListing(LocalNode node, DeviceManager devices, Function<String, Optional<VolumeContentSource>> sources) {
        this.node = node;
        this.devices = devices;
        this.sources = sources;
    }

    /**
     * Pages are ordered by volume ID, and a token is the last ID of the previous page. It stays
     * meaningful whatever is created or deleted in between: the next page starts after it.
     */
    ListVolumesResponse list(ListVolumesRequest req)
            throws InvalidRequestException, InvalidStartingTokenException, DeviceException {
        if (req.getMaxEntries() < 0) {
            throw new InvalidRequestException("max_entries must not be negative: " + req.getMaxEntries());
        }
        String token = req.getStartingToken();
        if (!token.isEmpty() && !DERIVED_ID.matcher(token).matches()) {
            throw new InvalidStartingTokenException("starting_token \"" + token
                    + "\" was not issued by this driver; start again without a token");
        }
        List<PmemVolume> after = devices.listVolumes().stream()
                .filter(v -> !VolumeIds.isEphemeral(v.id()))
                .filter(v -> token.isEmpty() || v.id().compareTo(token) > 0)
                .sorted(Comparator.comparing(PmemVolume::id))
                .toList();
        int max = req.getMaxEntries() == 0 ? Integer.MAX_VALUE : req.getMaxEntries();
        ListVolumesResponse.Builder out = ListVolumesResponse.newBuilder();
        int taken = 0;
        String last = null;
        for (PmemVolume v : after) {
            if (taken == max) {
                break;
            }
            Optional<VolumeCondition> condition = condition(v.id());
            if (condition.isEmpty()) {
                continue; // deleted since it was listed
            }
            out.addEntries(ListVolumesResponse.Entry.newBuilder()
                    .setVolume(describe(v))
                    .setStatus(ListVolumesResponse.VolumeStatus.newBuilder().setVolumeCondition(condition.get())));
            taken++;
            last = v.id();
        }
        if (last != null && !after.get(after.size() - 1).id().equals(last)) {
            out.setNextToken(last);
        }
        return out.build();
    }

    ControllerGetVolumeResponse get(String id) throws InvalidRequestException, DeviceException {
        if (id.isEmpty()) {
            throw new InvalidRequestException("volume_id must not be empty");
        }
        PmemVolume volume = find(id);
        VolumeCondition condition = condition(id).orElseThrow(() -> notFound(id));
        return ControllerGetVolumeResponse.newBuilder()
                .setVolume(describe(volume))
                .setStatus(ControllerGetVolumeResponse.VolumeStatus.newBuilder().setVolumeCondition(condition))
                .build();
    }

    private Volume describe(PmemVolume v) {
        Volume described = node.describe(v);
        return sources.apply(v.id()).map(s -> described.toBuilder().setContentSource(s).build()).orElse(described);
    }

    /** One of the controller's volumes. */
    PmemVolume find(String id) throws DeviceException {
        // CSI ephemeral inline volumes live and die with their pod on the node; they are no
        // volumes of the controller's.
        if (!VolumeIds.isValid(id) || VolumeIds.isEphemeral(id)) {
            throw notFound(id);
        }
        return devices.getVolume(id).orElseThrow(() -> notFound(id));
    }

    private static VolumeNotFoundException notFound(String id) {
        return new VolumeNotFoundException("volume " + id + " does not exist");
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
}
