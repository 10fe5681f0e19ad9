package dev.pmemcsi.ndctl;

import jnr.constants.platform.Errno;
import jnr.ffi.LibraryLoader;

/**
 * The one place where libndctl and libdaxctl are loaded; libc, for block-device I/O, is
 * pmem-native's. Each library is loaded once per JVM on first use; a failure is remembered and
 * reported again with an installation hint on every later call.
 *
 * <p>Sonames are loaded, not the unversioned {@code libndctl.so}: the latter only exists where the
 * development package is installed.
 */
final class NativeLibraries {

    static final String NDCTL_SONAME = "libndctl.so.6";
    static final String DAXCTL_SONAME = "libdaxctl.so.1";

    private NativeLibraries() {}

    private static final class Ndctl {
        static final Object LIB = load(LibNdctl.class, NDCTL_SONAME);
    }

    private static final class Daxctl {
        static final Object LIB = load(LibDaxctl.class, DAXCTL_SONAME);
    }

    private static Object load(Class<?> api, String name) {
        try {
            return LibraryLoader.create(api).failImmediately().load(name);
        } catch (UnsatisfiedLinkError | RuntimeException e) {
            return e;
        }
    }

    static LibNdctl ndctl() throws NdctlException {
        return cast(LibNdctl.class, Ndctl.LIB, NDCTL_SONAME, "install libndctl6 (Debian/Ubuntu) or ndctl-libs (Fedora/RHEL)");
    }

    static LibDaxctl daxctl() throws NdctlException {
        return cast(LibDaxctl.class, Daxctl.LIB, DAXCTL_SONAME, "install libdaxctl1 (Debian/Ubuntu) or daxctl-libs (Fedora/RHEL)");
    }

    private static <T> T cast(Class<T> api, Object loaded, String name, String hint) throws NdctlException {
        if (api.isInstance(loaded)) {
            return api.cast(loaded);
        }
        Throwable cause = (Throwable) loaded;
        throw new NdctlException("dlopen", name, Errno.ENOENT, name + " not found: " + hint, cause);
    }
}
