package dev.pmemcsi.device;

import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What a caller asks of {@link DeviceManager#createVolume}.
 *
 * @param volumeId      the ID, at most {@link VolumeIds#MAX_LENGTH} characters of {@code [a-z0-9-]}
 * @param requiredBytes the usable bytes the volume must offer at least; 0 means the default size
 * @param limitBytes    the capacity it must not exceed; 0 means no limit. The device may be
 *                      larger (allocation units, metadata); the volume's capacity is not.
 * @param mode          the device mode
 * @param eraseAfter    whether a later delete zeroes the data; recorded with the volume
 * @param attributes    small string attributes recorded with the volume and returned with it
 * @param access        what the volume is for; recorded with it
 */
public record VolumeRequest(
        String volumeId,
        long requiredBytes,
        long limitBytes,
        VolumeMode mode,
        boolean eraseAfter,
        Map<String, String> attributes,
        VolumeAccess access) {

    public VolumeRequest {
        Objects.requireNonNull(volumeId, "volumeId");
        Objects.requireNonNull(mode, "mode");
        if (!VolumeIds.isValid(volumeId)) {
            throw new IllegalArgumentException("invalid volume ID: " + volumeId);
        }
        if (requiredBytes < 0 || limitBytes < 0) {
            throw new IllegalArgumentException("sizes must not be negative");
        }
        if (limitBytes != 0 && limitBytes < requiredBytes) {
            throw new IllegalArgumentException("limit " + limitBytes + " is below the required " + requiredBytes);
        }
        attributes = Map.copyOf(attributes == null ? Map.of() : attributes);
        access = access == null ? VolumeAccess.UNRECORDED : access;
    }

    /** A request that records no use. */
    public VolumeRequest(String volumeId, long requiredBytes, long limitBytes, VolumeMode mode, boolean eraseAfter,
                         Map<String, String> attributes) {
        this(volumeId, requiredBytes, limitBytes, mode, eraseAfter, attributes, VolumeAccess.UNRECORDED);
    }

    /** The required bytes with the default applied: the default size, or the limit when that is smaller. */
    public long requiredOrDefault() {
        if (requiredBytes != 0) {
            return requiredBytes;
        }
        return limitBytes == 0 ? CapacityMath.DEFAULT_VOLUME_BYTES : Math.min(CapacityMath.DEFAULT_VOLUME_BYTES, limitBytes);
    }

    /**
     * Why an existing volume of this ID does not satisfy this request, or empty when it does: the
     * one rule for a repeated CreateVolume, whichever layer finds the volume. A required size of 0
     * asks for no minimum, so any capacity within the limit satisfies it.
     */
    public Optional<String> mismatch(PmemVolume existing) {
        if (existing.mode() != mode) {
            return Optional.of("mode " + existing.mode() + ", not " + mode);
        }
        if (existing.eraseAfter() != eraseAfter) {
            return Optional.of("erase-after " + existing.eraseAfter() + ", not " + eraseAfter);
        }
        if (!existing.access().serves(access)) {
            return Optional.of("a different use: created for " + existing.access().describe() + ", not for "
                    + access.describe());
        }
        long capacity = existing.capacityBytes();
        if (capacity < requiredBytes || (limitBytes != 0 && capacity > limitBytes)) {
            return Optional.of("a capacity of " + capacity + " bytes, outside the requested range [required "
                    + requiredBytes + ", limit " + (limitBytes == 0 ? "none" : limitBytes) + "]");
        }
        return Optional.empty();
    }

    /** The existing volume, when it satisfies this request. */
    public PmemVolume requireSatisfiedBy(PmemVolume existing) throws VolumeExistsException {
        Optional<String> why = mismatch(existing);
        if (why.isPresent()) {
            throw new VolumeExistsException("volume " + volumeId + " already exists with " + why.get());
        }
        return existing;
    }
}
