package dev.pmemcsi.nativeio;

import jnr.ffi.Platform;

/** open(2) flags for x86-64 and arm64 Linux, the platforms the driver supports. */
public final class OpenFlags {
    public static final int O_RDONLY = 0;
    public static final int O_RDWR = 2;
    public static final int O_EXCL = 0x80;
    public static final int O_CLOEXEC = 0x80000;
    /** The one flag here whose value differs between the two architectures. */
    public static final int O_DIRECT = Platform.getNativePlatform().getCPU() == Platform.CPU.AARCH64 ? 0x10000 : 0x4000;

    private OpenFlags() {}
}
