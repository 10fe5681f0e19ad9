package dev.pmemcsi.ndctl;

/**
 * A range of known-bad media, as the kernel lists it in {@code badblocks}: 512-byte sectors,
 * relative to the start of the region (region lists) or of the block device (namespace lists).
 */
public record BadBlock(long offsetSectors, long lengthSectors) {

    public static final long SECTOR = 512;

    /** Sectors of this range that fall inside {@code [fromSector, fromSector + sectors)}. */
    public long overlap(long fromSector, long sectors) {
        long start = Math.max(offsetSectors, fromSector);
        long end = Math.min(offsetSectors + lengthSectors, fromSector + sectors);
        return Math.max(0, end - start);
    }
}
