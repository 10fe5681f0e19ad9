package dev.pmemcsi.device.ndctl;

import dev.pmemcsi.ndctl.DimmInfo;
import dev.pmemcsi.ndctl.NamespaceInfo;
import dev.pmemcsi.ndctl.NamespaceSpec;
import dev.pmemcsi.ndctl.NdctlException;
import dev.pmemcsi.ndctl.RawEraser;
import dev.pmemcsi.ndctl.RegionInfo;
import java.util.List;
import java.util.function.Predicate;

/**
 * What the direct-mode device manager needs from libndctl, in snapshots. Reads open a fresh
 * context each; changes run under the JVM-wide namespace lock with a fresh context, and take
 * predicates rather than object handles so that the namespaces they act on are selected from
 * what the kernel shows at that moment, under the lock.
 */
public interface NamespaceBackend {

    /** Loads the libraries. */
    void load() throws NdctlException;

    /** The NVDIMM buses, e.g. {@code ndbus0}. */
    List<String> buses() throws NdctlException;

    /** Every region with its namespaces. */
    List<RegionInfo> regions() throws NdctlException;

    List<DimmInfo> dimms() throws NdctlException;

    /**
     * Under the namespace lock: destroys every allocated, inactive namespace in any region that
     * {@code leftover} accepts (remains of an interrupted create or destroy), then creates the
     * namespace in {@code region}.
     */
    NamespaceInfo create(String region, NamespaceSpec spec, Predicate<NamespaceInfo> leftover) throws NdctlException;

    /** Under the namespace lock: destroys every allocated namespace that {@code which} accepts, returns them. */
    List<NamespaceInfo> destroy(Predicate<NamespaceInfo> which) throws NdctlException;

    /**
     * As {@link #destroy(Predicate)}, and each namespace's whole raw device is handed to
     * {@code eraser} once its info block is zeroed, before its label space is released.
     */
    List<NamespaceInfo> destroy(Predicate<NamespaceInfo> which, RawEraser eraser) throws NdctlException;
}
