package dev.pmemcsi.device;

/**
 * One block device on PMEM that a pooling backend (LVM mode) turns into a physical volume of its
 * own volume group: the fsdax namespace of one region, or a device an administrator named.
 *
 * @param region     the region it lies in, e.g. {@code region0}; unique per node with {@code bus}
 * @param bus        the bus of that region, e.g. {@code ndbus0}
 * @param numaNode   the NUMA node of the region, -1 when unknown
 * @param devicePath the block device, e.g. {@code /dev/pmem0}
 * @param sizeBytes  the usable size of the block device
 * @param technology where the memory comes from, e.g. {@code nvdimm}, {@code cxl}, {@code e820}, {@code loop}
 */
public record PoolDevice(String region, String bus, int numaNode, String devicePath, long sizeBytes,
        String technology) {

    public PoolDevice {
        if (region == null || region.isBlank() || bus == null || bus.isBlank()) {
            throw new IllegalArgumentException("a pool device needs a region and a bus");
        }
        if (devicePath == null || devicePath.isBlank()) {
            throw new IllegalArgumentException("a pool device needs a block device path");
        }
        if (sizeBytes <= 0) {
            throw new IllegalArgumentException("pool device " + devicePath + " has no size");
        }
    }
}
