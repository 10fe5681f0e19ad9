package dev.pmemcsi.pmemnative.mount;

import dev.pmemcsi.pmemnative.Native;
import dev.pmemcsi.pmemnative.NativeException;
import java.nio.file.Path;
import java.util.Optional;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;

/**
 * File attributes from statx(2), the only place where the kernel tells whether a file really uses
 * DAX: a filesystem mounted with {@code dax} reports {@code STATX_ATTR_DAX} on each file that
 * bypasses the page cache.
 *
 * @param attributes     the {@code stx_attributes} bits
 * @param attributesMask which of those bits the filesystem supports
 */
public record FileAttributes(long attributes, long attributesMask) {

    public static final long STATX_ATTR_DAX = 0x200000L;

    private static final int AT_FDCWD = -100;
    private static final int AT_SYMLINK_NOFOLLOW = 0x100;
    private static final int STATX_BASIC_STATS = 0x7ff;
    private static final int STATX_SIZE = 256;
    private static final int OFFSET_ATTRIBUTES = 8;
    private static final int OFFSET_ATTRIBUTES_MASK = 56;

    public static FileAttributes of(Path path) throws NativeException {
        Pointer buf = Memory.allocateDirect(Native.runtime(), STATX_SIZE, true);
        Native.check(Native.libc().statx(AT_FDCWD, path.toString(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, buf),
                "statx(" + path + ")");
        return new FileAttributes(buf.getLong(OFFSET_ATTRIBUTES), buf.getLong(OFFSET_ATTRIBUTES_MASK));
    }

    /** Whether the file uses DAX, or empty when this kernel and filesystem do not say. */
    public Optional<Boolean> dax() {
        if ((attributesMask & STATX_ATTR_DAX) == 0) {
            return Optional.empty();
        }
        return Optional.of((attributes & STATX_ATTR_DAX) != 0);
    }
}
