package dev.pmemcsi.device.ndctl;

import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.ndctl.NamespaceInfo;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.UUID;

/**
 * How a namespace is recognised as a volume of this driver.
 *
 * <p>The namespace name is the volume ID, but a name alone proves nothing: deleted seeds keep their
 * old name and anybody can pick any name. The namespace UUID is therefore derived from the driver
 * name, the volume ID and the erase-after flag (a name-based UUID), and a namespace belongs to
 * volume {@code id} only when it is allocated, named {@code id} and carries one of the two UUIDs of
 * {@code id}. The flag lives in the UUID because the labels have no other room for it; it comes
 * back with the volume after a restart.
 */
final class VolumeNamespaces {

    /** An allocated namespace that belongs to one of the driver's volumes. */
    record Owned(String volumeId, boolean eraseAfter) {}

    private final String driverName;

    VolumeNamespaces(String driverName) {
        if (driverName == null || driverName.isEmpty()) {
            throw new IllegalArgumentException("driver name must not be empty");
        }
        this.driverName = driverName;
    }

    UUID uuidFor(String volumeId, boolean eraseAfter) {
        String key = driverName + "/volume/" + volumeId + (eraseAfter ? "/erase-after" : "/keep-after");
        return UUID.nameUUIDFromBytes(key.getBytes(StandardCharsets.UTF_8));
    }

    Optional<Owned> owner(NamespaceInfo ns) {
        String id = ns.altName();
        if (!ns.allocated() || !VolumeIds.isValid(id)) {
            return Optional.empty();
        }
        if (ns.uuid().equals(uuidFor(id, true))) {
            return Optional.of(new Owned(id, true));
        }
        if (ns.uuid().equals(uuidFor(id, false))) {
            return Optional.of(new Owned(id, false));
        }
        return Optional.empty();
    }

    boolean isVolume(NamespaceInfo ns, String volumeId) {
        return owner(ns).map(o -> o.volumeId().equals(volumeId)).orElse(false);
    }
}
