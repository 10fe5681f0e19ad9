package dev.pmemcsi.device.emulated;

import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.Extent;
import dev.pmemcsi.device.NoSpaceException;
import dev.pmemcsi.device.OutOfRangeException;
import dev.pmemcsi.device.RegionCapacity;
import dev.pmemcsi.device.RegionLayout;
import dev.pmemcsi.device.UnmanagedExtent;
import dev.pmemcsi.device.VolumeRequest;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Occupancy of the emulated regions, computed from the table: every row holds its extent
 * whatever its state (a DELETING extent is not free until it is zeroed), and space held by loop
 * devices the driver does not own is blocked too, so it is never handed out. A new volume's extent
 * is placed in what is left by the one best-fit policy of {@link RegionLayout}.
 */
final class RegionSpace {

    private final long alignment;
    private final Map<String, RegionLayout> layouts = new LinkedHashMap<>();

    /**
     * @param regionSizes region name to size, in region order
     * @param blocked     extents owned by someone else; may overlap each other and rows
     */
    RegionSpace(Map<String, Long> regionSizes, long alignment, Collection<VolumeRecord> records,
                Collection<UnmanagedExtent> blocked) {
        this.alignment = alignment;
        for (Map.Entry<String, Long> region : regionSizes.entrySet()) {
            String name = region.getKey();
            long size = region.getValue();
            List<Extent> taken = new ArrayList<>();
            long usedBytes = 0;
            for (VolumeRecord r : records) {
                if (r.region().equals(name)) {
                    taken.add(r.extent());
                    usedBytes += r.rawBytes();
                }
            }
            for (UnmanagedExtent u : blocked) {
                if (u.region().equals(name) && u.offsetBytes() >= 0 && u.sizeBytes() > 0 && u.offsetBytes() < size) {
                    taken.add(new Extent(u.offsetBytes(), Math.min(u.sizeBytes(), size - u.offsetBytes())));
                }
            }
            layouts.put(name, new RegionLayout(name, -1, size, alignment, merge(taken), usedBytes));
        }
    }

    /** The union of possibly overlapping extents, as disjoint extents. */
    static List<Extent> merge(List<Extent> extents) {
        List<Extent> sorted = new ArrayList<>(extents);
        sorted.sort(null);
        List<Extent> out = new ArrayList<>();
        for (Extent e : sorted) {
            if (!out.isEmpty() && out.get(out.size() - 1).end() >= e.offset()) {
                Extent last = out.remove(out.size() - 1);
                out.add(new Extent(last.offset(), Math.max(last.end(), e.end()) - last.offset()));
            } else {
                out.add(e);
            }
        }
        return out;
    }

    List<RegionLayout> layouts() {
        return List.copyOf(layouts.values());
    }

    RegionLayout layout(String region) {
        return layouts.get(region);
    }

    /**
     * The CREATING row of a new volume, its extent placed best fit in the space left.
     *
     * @throws OutOfRangeException when the limit is below the smallest volume
     * @throws NoSpaceException    when no region has a free extent large enough
     */
    VolumeRecord place(VolumeRequest req) throws DeviceException {
        long required = req.requiredOrDefault();
        CapacityMath.checkLimit(req.mode(), req.limitBytes(), alignment);
        long raw = CapacityMath.rawBytesFor(req.mode(), required, alignment);
        Optional<RegionLayout> region = RegionLayout.chooseRegion(layouts(), raw);
        if (region.isEmpty()) {
            throw new NoSpaceException("no emulated region has " + raw + " contiguous free bytes for a "
                    + req.mode() + " volume of " + required + " bytes (largest free extent: "
                    + layouts.values().stream().mapToLong(RegionLayout::maxExtentBytes).max().orElse(0) + ")");
        }
        long usable = CapacityMath.usableBytes(req.mode(), raw);
        Extent extent = region.get().bestFit(raw).orElseThrow();
        return new VolumeRecord(req.volumeId(), region.get().region(), extent.offset(), raw, usable, req.mode(),
                req.eraseAfter(), req.attributes(), VolumeState.CREATING, false,
                CapacityMath.capacityBytes(usable, req.limitBytes()), req.access().token());
    }

    List<RegionCapacity> capacity() {
        return layouts.values().stream().map(l -> l.capacity().withTechnology("emulated")).toList();
    }
}
