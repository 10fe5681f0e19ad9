package dev.pmemcsi.controller.snapshot;

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
}
