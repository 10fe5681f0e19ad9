package dev.pmemcsi.pmemnative;

import jnr.ffi.Pointer;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.byref.LongLongByReference;

/**
 * The libc calls the driver makes that jnr-posix does not cover. Every call saves errno, which
 * {@link Native#errno()} reads right after a failed call on the same thread.
 */
public interface LibC {

    @SaveError
    int open(@In String path, int flags, int mode);

    @SaveError
    int close(int fd);

    @SaveError
    int fsync(int fd);

    /** ioctl with a pointer to a 64-bit value, for BLKGETSIZE64. */
    @SaveError
    int ioctl(int fd, long request, @Out LongLongByReference value);

    /** ioctl with a pointer to a buffer, for BLKZEROOUT / BLKDISCARD ranges and loop structs. */
    @SaveError
    int ioctl(int fd, long request, Pointer arg);

    /** ioctl with an integer argument, for LOOP_SET_FD, LOOP_CLR_FD, LOOP_CTL_GET_FREE. */
    @SaveError
    int ioctl(int fd, long request, long arg);

    @SaveError
    int mount(@In String source, @In String target, @In String fstype, long flags, @In String data);

    @SaveError
    int umount2(@In String target, int flags);

    @SaveError
    int statfs(@In String path, Pointer buf);

    @SaveError
    int statx(int dirfd, @In String path, int flags, int mask, Pointer buf);

    @SaveError
    long pwrite(int fd, Pointer buf, long count, long offset);

    @SaveError
    long pread(int fd, Pointer buf, long count, long offset);

    /** lseek(2), with SEEK_DATA (3) and SEEK_HOLE (4) to skip the holes of sparse files. */
    @SaveError
    long lseek(int fd, long offset, int whence);

    /** fallocate(2): FALLOC_FL_PUNCH_HOLE / FALLOC_FL_ZERO_RANGE to zero file ranges without writing. */
    @SaveError
    int fallocate(int fd, int mode, long offset, long length);

    /** mknod(2), for loop device nodes in a /dev that is not devtmpfs (a container's /dev). */
    @SaveError
    int mknod(@In String path, int mode, long dev);
}
