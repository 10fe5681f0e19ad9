package dev.pmemcsi.device;

import java.util.List;

/**
 * Where a pooling backend (LVM mode) gets its block devices. On a PMEM node this makes sure each
 * managed region holds one fsdax namespace for the pool (creating it on labelled regions, or
 * reconfiguring the single raw namespace of a label-less region); with devices an administrator
 * named, it only checks them.
 */
public interface PoolDevices {

    /** For logs: what kind of source this is, e.g. {@code ndctl regions} or {@code /dev/pmem0,/dev/pmem1}. */
    String describe();

    /**
     * Makes sure every managed region has its pool device, and returns what it found. Idempotent and
     * crash-safe: a start after an interrupted preparation completes it or starts it over, and never
     * destroys a namespace that holds data.
     */
    Preparation prepare() throws DeviceException;

    /** A region that is not used, and why: foreign namespaces, direct-mode volumes, no space. */
    record SkippedRegion(String region, String bus, String reason) {}

    /** The devices to pool, and the regions left alone. */
    record Preparation(List<PoolDevice> devices, List<SkippedRegion> skipped) {
        public Preparation {
            devices = List.copyOf(devices);
            skipped = List.copyOf(skipped);
        }
    }
}
