package dev.pmemcsi.device;

/** How a volume's PMEM is presented to the host. */
public enum VolumeMode {
    /** A block device whose pages can be mapped directly (DAX); a page map lives on the media. */
    FSDAX,
    /** A block device with atomic sector updates (BTT); no DAX. Used for {@code usage=FileIO}. */
    SECTOR;
}
