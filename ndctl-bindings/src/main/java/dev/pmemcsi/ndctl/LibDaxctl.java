package dev.pmemcsi.ndctl;

import jnr.ffi.Pointer;

/**
 * The few libdaxctl.so.1 calls needed to find the character device of a devdax namespace.
 * Public only for jnr-ffi; use {@link NdctlNamespace#charDevice()}.
 */
public interface LibDaxctl {

    Pointer daxctl_dev_get_first(Pointer daxctlRegion);

    Pointer daxctl_dev_get_next(Pointer dev);

    String daxctl_dev_get_devname(Pointer dev);

    long daxctl_dev_get_size(Pointer dev);
}
