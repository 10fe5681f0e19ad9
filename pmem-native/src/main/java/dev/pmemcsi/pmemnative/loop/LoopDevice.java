package dev.pmemcsi.pmemnative.loop;

import java.nio.file.Path;

/**
 * A bound loop device as the kernel describes it.
 *
 * @param number         N of {@code /dev/loopN}
 * @param device         the device node
 * @param backingFile    {@code /sys/block/loopN/loop/backing_file}: the path of the backing file as
 *                       seen from this process, with {@code " (deleted)"} when it was unlinked;
 *                       empty when unknown
 * @param offset         first byte of the backing file that the device shows
 * @param sizeLimit      bytes of the backing file the device shows, 0 for "up to the end"
 * @param autoclear      whether the kernel detaches the device on its last close
 * @param fileName       the {@code lo_file_name} label given at attach time; empty when unreadable
 * @param backingDevice  st_dev of the backing file, or -1 when unreadable
 * @param backingInode   st_ino of the backing file, or -1 when unreadable
 */
public record LoopDevice(
        int number,
        Path device,
        String backingFile,
        long offset,
        long sizeLimit,
        boolean autoclear,
        String fileName,
        long backingDevice,
        long backingInode) {

    /** Whether the device shows {@code [offset, offset + sizeLimit)} of a file. */
    public boolean maps(long expectedOffset, long expectedSizeLimit) {
        return offset == expectedOffset && sizeLimit == expectedSizeLimit;
    }
}
