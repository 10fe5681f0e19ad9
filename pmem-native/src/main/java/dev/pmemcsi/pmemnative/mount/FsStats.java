package dev.pmemcsi.pmemnative.mount;

import dev.pmemcsi.pmemnative.Native;
import dev.pmemcsi.pmemnative.NativeException;
import java.nio.file.Path;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;

/**
 * Space and inode figures of the filesystem that holds a path, from statfs(2).
 *
 * @param blockSize       the unit of the block counts
 * @param totalBlocks     size of the filesystem
 * @param freeBlocks      free blocks, including those reserved for root
 * @param availableBlocks free blocks an unprivileged user may take
 * @param totalInodes     inodes in the filesystem (0 when it has no fixed table)
 * @param freeInodes      free inodes
 */
public record FsStats(long blockSize, long totalBlocks, long freeBlocks, long availableBlocks,
                      long totalInodes, long freeInodes) {

    /** struct statfs on 64-bit Linux: eleven 8-byte words, then four spare ones. */
    private static final int STATFS_SIZE = 120;

    public static FsStats of(Path path) throws NativeException {
        Pointer buf = Memory.allocateDirect(Native.runtime(), STATFS_SIZE, true);
        Native.check(Native.libc().statfs(path.toString(), buf), "statfs(" + path + ")");
        long bsize = buf.getLong(8);
        return new FsStats(bsize, buf.getLong(16), buf.getLong(24), buf.getLong(32), buf.getLong(40), buf.getLong(48));
    }

    public long totalBytes() {
        return totalBlocks * blockSize;
    }

    public long availableBytes() {
        return availableBlocks * blockSize;
    }

    /** Bytes in use: what is not free, so root's reserve does not count as used. */
    public long usedBytes() {
        return (totalBlocks - freeBlocks) * blockSize;
    }

    public long usedInodes() {
        return totalInodes - freeInodes;
    }
}
