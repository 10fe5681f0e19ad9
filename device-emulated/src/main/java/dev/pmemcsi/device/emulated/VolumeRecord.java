package dev.pmemcsi.device.emulated;

import com.fasterxml.jackson.core.JsonGenerator;
import dev.pmemcsi.device.Extent;
import dev.pmemcsi.device.JsonRecord;
import dev.pmemcsi.device.VolumeAccess;
import dev.pmemcsi.device.VolumeMode;
import java.io.IOException;
import java.util.Map;
import java.util.Objects;

/**
 * One row of the namespace table: the emulated equivalent of a namespace label.
 *
 * @param id            volume ID
 * @param region        region name, {@code regionN}
 * @param offset        start of the extent in the region file
 * @param rawBytes      extent length, a multiple of the allocation unit
 * @param usableBytes   size of the block device; the extent's first {@code rawBytes - usableBytes}
 *                      stand in for the mode's metadata and are never exposed
 * @param mode          device mode
 * @param eraseAfter    recorded wish to zero the data on delete
 * @param attributes    attributes recorded at creation
 * @param state         life-cycle state
 * @param eraseOnDelete for {@link VolumeState#DELETING}: whether the delete must zero the extent
 * @param capacityBytes the capacity promised at creation, at most {@code usableBytes}; null in
 *                      tables written before it was recorded, meaning the whole device
 * @param access        {@link VolumeAccess#token()} of what the volume was created for; null or
 *                      empty when nothing was recorded
 */
record VolumeRecord(
        String id,
        String region,
        long offset,
        long rawBytes,
        long usableBytes,
        VolumeMode mode,
        boolean eraseAfter,
        Map<String, String> attributes,
        VolumeState state,
        boolean eraseOnDelete,
        Long capacityBytes,
        String access) {

    VolumeRecord {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(region, "region");
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(state, "state");
        if (offset < 0 || rawBytes <= 0 || usableBytes <= 0 || usableBytes > rawBytes) {
            throw new IllegalArgumentException("volume " + id + ": bad geometry offset=" + offset
                    + " raw=" + rawBytes + " usable=" + usableBytes);
        }
        attributes = Map.copyOf(attributes == null ? Map.of() : attributes);
        if (capacityBytes != null && (capacityBytes <= 0 || capacityBytes > usableBytes)) {
            throw new IllegalArgumentException("volume " + id + ": capacity " + capacityBytes
                    + " outside the device's " + usableBytes + " bytes");
        }
        VolumeAccess.ofToken(access);
    }

    /** A row that records neither a capacity nor a use. */
    VolumeRecord(String id, String region, long offset, long rawBytes, long usableBytes, VolumeMode mode,
                 boolean eraseAfter, Map<String, String> attributes, VolumeState state, boolean eraseOnDelete) {
        this(id, region, offset, rawBytes, usableBytes, mode, eraseAfter, attributes, state, eraseOnDelete, null, null);
    }

    /** The capacity reported for the volume: as recorded, or the whole device for older rows. */
    long capacity() {
        return capacityBytes == null ? usableBytes : capacityBytes;
    }

    VolumeAccess volumeAccess() {
        return VolumeAccess.ofToken(access);
    }

    Extent extent() {
        return new Extent(offset, rawBytes);
    }

    /** Where the loop device starts in the region file. */
    long deviceOffset() {
        return offset + rawBytes - usableBytes;
    }

    VolumeRecord withState(VolumeState newState) {
        return new VolumeRecord(id, region, offset, rawBytes, usableBytes, mode, eraseAfter, attributes, newState, eraseOnDelete,
                capacityBytes, access);
    }

    VolumeRecord deleting(boolean erase) {
        return new VolumeRecord(id, region, offset, rawBytes, usableBytes, mode, eraseAfter, attributes,
                VolumeState.DELETING, eraseOnDelete || erase, capacityBytes, access);
    }

    /** The fields of a row in the table and in a label, in the order they were always written. */
    private static final String[] FIELDS = {"id", "region", "offset", "rawBytes", "usableBytes", "mode", "eraseAfter",
        "attributes", "state", "eraseOnDelete", "capacityBytes", "access"};

    /** Writes the row as one JSON object. */
    void write(JsonGenerator g) throws IOException {
        g.writeStartObject();
        g.writeStringField("id", id);
        g.writeStringField("region", region);
        g.writeNumberField("offset", offset);
        g.writeNumberField("rawBytes", rawBytes);
        g.writeNumberField("usableBytes", usableBytes);
        JsonRecord.writeEnum(g, "mode", mode);
        g.writeBooleanField("eraseAfter", eraseAfter);
        JsonRecord.writeStrings(g, "attributes", attributes);
        JsonRecord.writeEnum(g, "state", state);
        g.writeBooleanField("eraseOnDelete", eraseOnDelete);
        if (capacityBytes == null) {
            g.writeNullField("capacityBytes");
        } else {
            g.writeNumberField("capacityBytes", capacityBytes);
        }
        JsonRecord.writeString(g, "access", access);
        g.writeEndObject();
    }

    /**
     * Reads a row: every number and flag must be there, attributes, capacity and use may be absent
     * (rows written before they were recorded); any other field makes the row unreadable.
     */
    static VolumeRecord read(JsonRecord r) throws JsonRecord.FormatException {
        r.requireOnly(false, FIELDS);
        String id = r.requiredString("id");
        try {
            return new VolumeRecord(id, r.requiredString("region"), r.longValue("offset"), r.longValue("rawBytes"),
                    r.longValue("usableBytes"), r.requiredEnum("mode", VolumeMode.class), r.bool("eraseAfter"),
                    r.stringMap("attributes"), r.requiredEnum("state", VolumeState.class), r.bool("eraseOnDelete"),
                    r.nullableLong("capacityBytes"), r.string("access"));
        } catch (IllegalArgumentException e) {
            throw new JsonRecord.FormatException(r.where() + ": " + e.getMessage());
        }
    }
}
