package dev.pmemcsi.controller.snapshot;

import dev.pmemcsi.device.JsonRecord;
import java.io.IOException;
import java.util.Objects;

/**
 * A snapshot as its metadata file holds it ({@code <key>.json} next to {@code <key>.img}). The
 * metadata file is written last, after the image is durable: a snapshot exists when its metadata
 * does.
 *
 * @param format         {@link #FORMAT}
 * @param id             the snapshot ID ({@link SnapshotIds})
 * @param name           the CSI name it was created with
 * @param key            the name of its files
 * @param sourceVolumeId the volume it was taken from
 * @param sizeBytes      the capacity of the source volume: a restore needs a volume at least this large
 * @param imageBytes     the length of the image: the source's filesystem, or its whole device for a
 *                       volume that serves raw block access
 * @param fsType         the filesystem in the image ({@code ext4}, {@code xfs}), another signature
 *                       blkid found, or empty when the image holds nothing
 * @param creationNanos  when the source was copied, in nanoseconds since the epoch
 * @param crc32c         the image's checksum (see {@link BlockCopy})
 * @param ready          whether the image is complete and durable; only complete snapshots are written
 */
public record SnapshotRecord(
        int format,
        String id,
        String name,
        String key,
        String sourceVolumeId,
        long sizeBytes,
        long imageBytes,
        String fsType,
        long creationNanos,
        long crc32c,
        boolean ready) {

    public static final int FORMAT = 1;

    public SnapshotRecord {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(sourceVolumeId, "sourceVolumeId");
        fsType = fsType == null ? "" : fsType;
    }

    /** The fields, in the order they were always written; metadata lacking any of them is unreadable. */
    private static final String[] FIELDS = {"format", "id", "name", "key", "sourceVolumeId", "sizeBytes", "imageBytes",
        "fsType", "creationNanos", "crc32c", "ready"};

    /** The metadata file: one indented JSON object. */
    byte[] toJson() throws IOException {
        return JsonRecord.write(true, g -> {
            g.writeStartObject();
            g.writeNumberField("format", format);
            g.writeStringField("id", id);
            g.writeStringField("name", name);
            g.writeStringField("key", key);
            g.writeStringField("sourceVolumeId", sourceVolumeId);
            g.writeNumberField("sizeBytes", sizeBytes);
            g.writeNumberField("imageBytes", imageBytes);
            g.writeStringField("fsType", fsType);
            g.writeNumberField("creationNanos", creationNanos);
            g.writeNumberField("crc32c", crc32c);
            g.writeBooleanField("ready", ready);
            g.writeEndObject();
        });
    }

    /** Reads a metadata file: every field must be there, and no other; only the filesystem may be null. */
    static SnapshotRecord fromJson(byte[] json) throws IOException {
        JsonRecord r = JsonRecord.parse(json).requireOnly(true, FIELDS);
        return new SnapshotRecord(r.intValue("format"), r.requiredString("id"), r.requiredString("name"),
                r.requiredString("key"), r.requiredString("sourceVolumeId"), r.longValue("sizeBytes"),
                r.longValue("imageBytes"), r.string("fsType"), r.longValue("creationNanos"), r.longValue("crc32c"),
                r.bool("ready"));
    }
}
