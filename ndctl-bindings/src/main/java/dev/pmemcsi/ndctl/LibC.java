package dev.pmemcsi.ndctl;

import jnr.ffi.Pointer;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.SaveError;

/**
 * The libc calls behind {@link BlockDevice}: open with O_EXCL and O_DIRECT, positioned I/O and
 * the block-device ioctls, none of which java.nio offers. Public only for jnr-ffi.
 */
public interface LibC {

    @SaveError
    int open(@In byte[] nulTerminatedPath, int flags, int mode);

    @SaveError
    long pread(int fd, Pointer buf, long count, long offset);

    @SaveError
    long pwrite(int fd, Pointer buf, long count, long offset);

    @SaveError
    int fsync(int fd);

    /** For the block-device ioctls, whose argument is a pointer to one or two u64 (in or out). */
    @SaveError
    int ioctl(int fd, long request, long[] argument);

    int close(int fd);
}
