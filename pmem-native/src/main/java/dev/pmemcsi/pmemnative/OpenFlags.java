package dev.pmemcsi.pmemnative;

import jnr.ffi.Platform;

/** open(2) flags for x86-64 and arm64 Linux, the platforms the driver supports. */
public final class OpenFlags {
    public static final int O_RDONLY = 0;
    public static final int O_RDWR = 2;
    public static final int O_CREAT = 0x40;
    public static final int O_EXCL = 0x80;
    public static final int O_CLOEXEC = 0x80000;
    private static final boolean ARM64 = Platform.getNativePlatform().getCPU() == Platform.CPU.AARCH64;
    /** The flags here whose values differ between the two architectures. */
    public static final int O_DIRECT = ARM64 ? 0x10000 : 0x4000;
    /** Fails with ELOOP when the last component is a symbolic link. */
    public static final int O_NOFOLLOW = ARM64 ? 0x8000 : 0x20000;
    /** Fails with ENOTDIR unless the path is a directory. */
    public static final int O_DIRECTORY = ARM64 ? 0x4000 : 0x10000;

    private OpenFlags() {}
}
