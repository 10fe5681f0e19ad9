package dev.pmemcsi.device.ndctl;

import dev.pmemcsi.ndctl.NamespaceInfo;
import dev.pmemcsi.ndctl.NdctlException;
import dev.pmemcsi.ndctl.RawContentCheck;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Predicate;

/**
 * What LVM mode's preparation needs from libndctl besides creating and destroying namespaces:
 * bringing an inactive namespace back, and turning a namespace into fsdax in place (the only way on
 * a label-less region, which holds one namespace and cannot hold a second). Direct mode never
 * changes a namespace in place, so these are not part of {@link NamespaceBackend}.
 *
 * <p>Both run under the JVM-wide namespace lock with a fresh context, and act only if
 * {@code which} still accepts the namespace as the kernel shows it then; otherwise they fail with
 * EAGAIN and change nothing.
 */
public interface PoolNamespaceBackend extends NamespaceBackend {

    /**
     * Enables the inactive namespace {@code devname} of {@code region} as it is: the kernel brings
     * it back in the mode its info block records, or raw. Writes nothing to it.
     */
    void enable(String region, String devname, Predicate<NamespaceInfo> which) throws NdctlException;

    /**
     * Reconfigures the namespace {@code devname} of {@code region} to fsdax in place, with a pfn
     * device of {@code deviceUuid} and page-map alignment {@code align}, unless {@code check}
     * refuses once it sees the raw device (then the namespace is given back as it was).
     *
     * @return empty when the namespace is now fsdax, else the check's reason
     */
    Optional<String> reconfigureToFsdax(String region, String devname, Predicate<NamespaceInfo> which, UUID deviceUuid,
            long align, RawContentCheck check) throws NdctlException;
}
