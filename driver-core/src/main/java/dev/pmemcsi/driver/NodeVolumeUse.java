package dev.pmemcsi.driver;

import java.util.Optional;

/**
 * Whether a volume is staged or published on this node. The controller asks before deleting:
 * a volume in use must not disappear under a pod, even when its device is not held open
 * (a raw block volume bind-mounted into a pod is not).
 */
public interface NodeVolumeUse {

    /** Where the volume is in use, e.g. "published at /var/lib/kubelet/…", or empty when it is not. */
    Optional<String> usage(String volumeId);

    /** For a controller that runs without a node service in its process. */
    static NodeVolumeUse none() {
        return id -> Optional.empty();
    }
}
