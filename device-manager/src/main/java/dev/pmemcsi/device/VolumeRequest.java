package dev.pmemcsi.device;

import java.util.Map;
import java.util.Objects;

/**
 * What a caller asks of {@link DeviceManager#createVolume}.
 *
 * @param volumeId      the ID, at most {@link VolumeIds#MAX_LENGTH} characters of {@code [a-z0-9-]}
 * @param requiredBytes the usable bytes the volume must offer at least; 0 means the default size
 * @param limitBytes    the usable bytes it must not exceed; 0 means no limit
 * @param mode          the device mode
 * @param eraseAfter    whether a later delete zeroes the data; recorded with the volume
 * @param attributes    small string attributes recorded with the volume and returned with it
 */
public record VolumeRequest(
        String volumeId,
        long requiredBytes,
        long limitBytes,
        VolumeMode mode,
        boolean eraseAfter,
        Map<String, String> attributes) {

    public VolumeRequest {
        Objects.requireNonNull(volumeId, "volumeId");
        Objects.requireNonNull(mode, "mode");
        if (!VolumeIds.isValid(volumeId)) {
            throw new IllegalArgumentException("invalid volume ID: " + volumeId);
        }
        if (requiredBytes < 0 || limitBytes < 0) {
            throw new IllegalArgumentException("sizes must not be negative");
        }
        attributes = Map.copyOf(attributes == null ? Map.of() : attributes);
    }
}
