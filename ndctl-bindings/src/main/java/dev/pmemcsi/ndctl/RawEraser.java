package dev.pmemcsi.ndctl;

import java.nio.file.Path;

/**
 * Overwrites a namespace's data during its destroy, once its info block is gone: the namespace is
 * then enabled raw, so its whole space, page map included, is one block device.
 */
@FunctionalInterface
public interface RawEraser {

    /** Erases nothing. */
    RawEraser NONE = rawDevice -> { };

    /** @param rawDevice the raw block device of the whole namespace, e.g. {@code /dev/pmem0.1} */
    void erase(Path rawDevice) throws NdctlException;
}
