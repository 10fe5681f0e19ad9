package dev.pmemcsi.ndctl;

import java.nio.file.Path;
import java.util.Optional;

/**
 * Decides, before anything is written, whether a namespace may be reconfigured: it is shown the
 * namespace's raw block device, the whole namespace from its first byte, and answers why not.
 */
@FunctionalInterface
public interface RawContentCheck {

    /**
     * @param rawDevice the raw block device, e.g. {@code /dev/pmem0}
     * @return the reason to leave the namespace as it is (it holds data, or its content cannot be
     *         told), or empty when it may be overwritten
     */
    Optional<String> refusal(Path rawDevice);
}
