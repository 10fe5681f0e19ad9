package dev.pmemcsi.ndctl;

import java.util.List;
import java.util.UUID;

/**
 * A snapshot of one namespace, read through a context that was closed afterwards.
 *
 * @param region       e.g. {@code region0}
 * @param devname      e.g. {@code namespace0.1}; not stable across reboots for a given volume
 * @param altName      the label name ("" when none); a deleted seed keeps its old name
 * @param uuid         the namespace UUID (all zero for a seed)
 * @param mode         the live mode
 * @param sizeBytes    raw namespace size; 0 for a seed
 * @param resource     physical start address, or -1 when none is assigned
 * @param active       whether the namespace or its pfn/dax/btt device is bound, i.e. in service
 * @param configurationIdle whether it is an unconfigured seed
 * @param blockDevice  e.g. {@code pmem0.1} or {@code pmem0.3s}; "" for devdax or when not enabled
 * @param charDevice   e.g. {@code dax0.2} for devdax; "" otherwise
 * @param deviceBytes  what the block/char device offers (after page map or BTT metadata), 0 when none
 * @param align        page-map alignment of fsdax/devdax, 0 otherwise
 * @param badBlocks    bad blocks of the block device, relative to its start (empty for sector and devdax)
 * @param deviceUuid   the UUID of the pfn device that claims the namespace (fsdax), recorded in its
 *                     info block; {@link #NIL} when no pfn device claims it. Label-less namespaces have
 *                     no UUID of their own, so this is the only UUID they carry
 */
public record NamespaceInfo(
        String region,
        String devname,
        String altName,
        UUID uuid,
        NamespaceMode mode,
        long sizeBytes,
        long resource,
        boolean active,
        boolean configurationIdle,
        String blockDevice,
        String charDevice,
        long deviceBytes,
        long align,
        List<BadBlock> badBlocks,
        UUID deviceUuid) {

    public static final UUID NIL = new UUID(0, 0);

    public NamespaceInfo {
        badBlocks = List.copyOf(badBlocks);
        deviceUuid = deviceUuid == null ? NIL : deviceUuid;
    }

    /** A namespace whose pfn device, if any, is not of interest. */
    public NamespaceInfo(String region, String devname, String altName, UUID uuid, NamespaceMode mode, long sizeBytes,
            long resource, boolean active, boolean configurationIdle, String blockDevice, String charDevice,
            long deviceBytes, long align, List<BadBlock> badBlocks) {
        this(region, devname, altName, uuid, mode, sizeBytes, resource, active, configurationIdle, blockDevice,
                charDevice, deviceBytes, align, badBlocks, NIL);
    }

    /** Whether a pfn device claims it: fsdax with a page map, as opposed to an unclaimed e820 namespace, which the kernel also shows as fsdax. */
    public boolean claimedByPfn() {
        return !NIL.equals(deviceUuid);
    }

    /** Whether label space is allocated to it; seeds (size 0) are not namespaces in any useful sense. */
    public boolean allocated() {
        return sizeBytes > 0;
    }
}
