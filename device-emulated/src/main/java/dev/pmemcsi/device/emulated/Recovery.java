package dev.pmemcsi.device.emulated;

import dev.pmemcsi.device.UnmanagedExtent;
import dev.pmemcsi.pmemnative.loop.LoopDevice;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What start() must do, decided from the table and the loop devices found over the region files
 * alone, so that every crash outcome can be tested without devices.
 *
 * <p>Decisions: a READY volume keeps a loop device that shows exactly its range and carries its
 * label, or gets a new one. A device with its label and first byte that shows less than the row
 * records is the volume's device from before a growth the row already records: it is kept and
 * grown, since a filesystem on it may be mounted. A CREATING volume was never handed out and is rolled back (the CO
 * retries CreateVolume). A DELETING volume was already promised to go, so the delete is finished.
 * Loop devices with the driver's label that match no volume are detached; anything else over the
 * region files, and anything in use, is reported and left alone.
 */
final class Recovery {

    static final String LABEL_PREFIX = "pmem-csi:";
    /**
     * Suffix of the row that holds the other extent of a volume that is moving to grow: first the
     * target being filled, then the old extent being erased. Always DELETING, so that a start
     * erases and frees it. Volume IDs never contain {@code ~}.
     */
    static final String MOVE_SUFFIX = "~moving";

    private Recovery() {}

    /** A bound loop device whose backing file is one of the region files. */
    record ObservedLoop(LoopDevice loop, String region, boolean busy) {}

    /**
     * A loop device to detach, and why.
     *
     * @param volumeId the CREATING or DELETING volume that cannot be finished without it, or null
     */
    record Detach(LoopDevice loop, String volumeId, String reason) {}

    /**
     * @param reuse        READY volumes whose loop device is already there
     * @param grow         READY volumes whose loop device is there but still shows the size from
     *                     before a recorded growth: it is grown in place
     * @param attach       READY volumes that need a new loop device
     * @param rollBack     CREATING volumes to remove (after their loop devices are detached)
     * @param finishDelete DELETING volumes to erase if asked and remove (after detaching)
     * @param stuck        CREATING or DELETING volumes whose loop device is in use: left as they
     *                     are, with the device, until a later delete or start can finish them
     * @param detach       loop devices to detach before anything else
     * @param unmanaged    what is reported and left alone
     */
    record Plan(Map<String, LoopDevice> reuse,
                Map<String, LoopDevice> grow,
                List<VolumeRecord> attach,
                List<VolumeRecord> rollBack,
                List<VolumeRecord> finishDelete,
                Map<String, LoopDevice> stuck,
                List<Detach> detach,
                List<UnmanagedExtent> unmanaged) {}

    /**
     * The label of a volume's loop device: the prefix and as much of the ID as fits. The row of a
     * moving volume's old extent has the volume's label, so that the old device is found, and
     * detached before the extent is erased, by the deletion that row stands for.
     */
    static String label(String volumeId) {
        String id = volumeId.endsWith(MOVE_SUFFIX) ? volumeId.substring(0, volumeId.length() - MOVE_SUFFIX.length()) : volumeId;
        String label = LABEL_PREFIX + id;
        byte[] bytes = label.getBytes(StandardCharsets.US_ASCII);
        return bytes.length <= 63 ? label : new String(bytes, 0, 63, StandardCharsets.US_ASCII);
    }

    static boolean matches(VolumeRecord r, ObservedLoop o) {
        return r.region().equals(o.region())
                && o.loop().maps(r.deviceOffset(), r.usableBytes())
                && label(r.id()).equals(o.loop().fileName());
    }

    /**
     * Whether {@code o} is the device of READY volume {@code r} as it was before a growth that the
     * row records but the device did not get to: same file, label and first byte, fewer bytes.
     */
    static boolean matchesBeforeGrowth(VolumeRecord r, ObservedLoop o) {
        return r.state() == VolumeState.READY
                && r.region().equals(o.region())
                && o.loop().offset() == r.deviceOffset()
                && o.loop().sizeLimit() > 0 && o.loop().sizeLimit() < r.usableBytes()
                && label(r.id()).equals(o.loop().fileName());
    }

    private static boolean explains(VolumeRecord r, ObservedLoop o) {
        return matches(r, o) || matchesBeforeGrowth(r, o);
    }

    static Plan plan(List<VolumeRecord> records, List<ObservedLoop> loops, Map<String, Long> regionSizes) {
        Planner planner = new Planner(regionSizes);
        Set<ObservedLoop> accounted = new HashSet<>();
        for (VolumeRecord r : records) {
            List<ObservedLoop> mine = loops.stream().filter(o -> explains(r, o)).toList();
            accounted.addAll(mine);
            switch (r.state()) {
                case READY -> planner.ready(r, mine);
                case CREATING, DELETING -> planner.unfinished(r, mine);
            }
        }
        for (ObservedLoop o : loops) {
            if (!accounted.contains(o)) {
                planner.unexplained(o);
            }
        }
        return planner.plan();
    }

    /** The plan as it is put together, one volume or device at a time. */
    private static final class Planner {
        private final Map<String, Long> regionSizes;
        private final Map<String, LoopDevice> reuse = new LinkedHashMap<>();
        private final Map<String, LoopDevice> grow = new LinkedHashMap<>();
        private final List<VolumeRecord> attach = new ArrayList<>();
        private final List<VolumeRecord> rollBack = new ArrayList<>();
        private final List<VolumeRecord> finishDelete = new ArrayList<>();
        private final Map<String, LoopDevice> stuck = new LinkedHashMap<>();
        private final List<Detach> detach = new ArrayList<>();
        private final List<UnmanagedExtent> unmanaged = new ArrayList<>();

        Planner(Map<String, Long> regionSizes) {
            this.regionSizes = regionSizes;
        }

        /** A READY volume keeps one of its devices, the one in use if any, or gets a new one. */
        void ready(VolumeRecord r, List<ObservedLoop> mine) {
            // A device in use is the one a workload has mounted: that one stays.
            ObservedLoop keep = mine.stream().filter(ObservedLoop::busy).findFirst()
                    .orElse(mine.isEmpty() ? null : mine.get(0));
            if (keep == null) {
                attach.add(r);
            } else if (keep.loop().sizeLimit() != r.usableBytes()) {
                grow.put(r.id(), keep.loop());
            } else {
                reuse.put(r.id(), keep.loop());
            }
            for (ObservedLoop o : mine) {
                if (o == keep) {
                    continue;
                }
                if (o.busy()) {
                    unmanaged.add(report(o, regionSizes, "second loop device of volume " + r.id() + ", in use"));
                } else {
                    detach.add(new Detach(o.loop(), null, "duplicate loop device of volume " + r.id()));
                }
            }
        }

        /** A CREATING volume is rolled back, a DELETING one finished, unless its device is in use. */
        void unfinished(VolumeRecord r, List<ObservedLoop> mine) {
            ObservedLoop busy = mine.stream().filter(ObservedLoop::busy).findFirst().orElse(null);
            if (busy != null) {
                stuck.put(r.id(), busy.loop());
                unmanaged.add(report(busy, regionSizes, "volume " + r.id() + " is " + r.state().name().toLowerCase()
                        + " but its loop device is in use"));
                return;
            }
            for (ObservedLoop o : mine) {
                detach.add(new Detach(o.loop(), r.id(), (r.state() == VolumeState.CREATING ? "rolling back creation of "
                        : "finishing deletion of ") + r.id()));
            }
            (r.state() == VolumeState.CREATING ? rollBack : finishDelete).add(r);
        }

        /** A device no volume explains: detached when it carries the driver's label and is idle, else reported. */
        void unexplained(ObservedLoop o) {
            boolean ours = o.loop().fileName().startsWith(LABEL_PREFIX);
            if (ours && !o.busy()) {
                detach.add(new Detach(o.loop(), null, "labelled " + o.loop().fileName() + " but matches no volume"));
            } else {
                unmanaged.add(report(o, regionSizes, ours
                        ? "labelled " + o.loop().fileName() + ", matches no volume, in use"
                        : "loop device over the region file not created by the driver"));
            }
        }

        Plan plan() {
            return new Plan(reuse, grow, attach, rollBack, finishDelete, stuck, detach, unmanaged);
        }
    }

    /** Loop devices over the region files that no row of the table accounts for. */
    static List<UnmanagedExtent> unaccounted(List<VolumeRecord> records, List<ObservedLoop> loops, Map<String, Long> regionSizes) {
        List<UnmanagedExtent> result = new ArrayList<>();
        for (ObservedLoop o : loops) {
            if (records.stream().noneMatch(r -> explains(r, o))) {
                result.add(report(o, regionSizes, o.loop().fileName().startsWith(LABEL_PREFIX)
                        ? "labelled " + o.loop().fileName() + " but matches no volume"
                        : "loop device over the region file not created by the driver"));
            }
        }
        return result;
    }

    private static UnmanagedExtent report(ObservedLoop o, Map<String, Long> regionSizes, String reason) {
        long regionSize = regionSizes.getOrDefault(o.region(), 0L);
        long offset = o.loop().offset();
        long size = o.loop().sizeLimit() > 0 ? o.loop().sizeLimit() : Math.max(0, regionSize - offset);
        return new UnmanagedExtent(o.region(), o.loop().device().toString(), offset, size, reason);
    }

    /** Problems that make the table unusable with this configuration; empty when it is consistent. */
    static List<String> validate(List<VolumeRecord> records, Map<String, Long> regionSizes) {
        List<String> problems = new ArrayList<>();
        Set<String> ids = new HashSet<>();
        for (VolumeRecord r : records) {
            if (!ids.add(r.id())) {
                problems.add("volume " + r.id() + " appears twice");
            }
            Long size = regionSizes.get(r.region());
            if (size == null) {
                problems.add("volume " + r.id() + " is in " + r.region() + ", which is not configured (configured: "
                        + regionSizes.keySet() + "); removing a region that holds volumes is not supported");
            } else if (r.extent().end() > size) {
                problems.add("volume " + r.id() + " ends at byte " + r.extent().end() + ", beyond the size of "
                        + r.region() + " (" + size + "); shrinking a region below its volumes is not supported");
            }
        }
        for (int i = 0; i < records.size(); i++) {
            for (int j = i + 1; j < records.size(); j++) {
                VolumeRecord a = records.get(i);
                VolumeRecord b = records.get(j);
                if (a.region().equals(b.region()) && a.extent().overlaps(b.extent())) {
                    problems.add("volumes " + a.id() + " and " + b.id() + " overlap in " + a.region());
                }
            }
        }
        return problems;
    }
}
