package dev.pmemcsi.device.ndctl;

import dev.pmemcsi.ndctl.NamespaceInfo;
import dev.pmemcsi.ndctl.RegionInfo;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Which namespace is a volume while it moves to a larger one, read from the labels alone.
 *
 * <p>A move makes a namespace of the next generation with the volume's name and UUID record,
 * copies the data onto it, and then destroys the old namespace. The labels cannot say when a copy
 * is complete (a namespace that a pfn device claims cannot be renamed), so the order of the steps
 * says it: while the old namespace still serves, the copy may be unfinished and the old one is the
 * volume; the old one stops serving (disabled, or its info block wiped) only in its destroy, which
 * begins once the copy is durable, and from then the new one is the volume.
 */
final class MoveLineage {

    private final VolumeNamespaces naming;
    private final Predicate<NamespaceInfo> serving;

    /** @param serving whether a namespace of ours is a usable volume (active, fsdax or sector, with a device) */
    MoveLineage(VolumeNamespaces naming, Predicate<NamespaceInfo> serving) {
        this.naming = naming;
        this.serving = serving;
    }

    /**
     * The devnames of the new namespaces of unfinished moves: a serving namespace (one that
     * is a volume's) whose volume has another serving namespace of the generation
     * before. Until the older one is gone, the older one is the volume.
     */
    Set<String> targets(List<RegionInfo> regions) {
        Map<String, List<NamespaceInfo>> byVolume = new HashMap<>();
        for (RegionInfo r : regions) {
            for (NamespaceInfo ns : r.namespaces()) {
                if (serving.test(ns)) {
                    byVolume.computeIfAbsent(naming.owner(ns).orElseThrow().volumeId(), k -> new ArrayList<>()).add(ns);
                }
            }
        }
        Set<String> targets = new HashSet<>();
        for (List<NamespaceInfo> list : byVolume.values()) {
            for (NamespaceInfo older : list) {
                for (NamespaceInfo newer : list) {
                    if (VolumeNamespaces.isNext(generation(older), generation(newer))) {
                        targets.add(newer.devname());
                    }
                }
            }
        }
        return targets;
    }

    /**
     * The old namespaces of moves that were interrupted while the old one was being destroyed:
     * active but no longer fsdax or sector (the destroy wiped its info block first), with a serving
     * namespace of the next generation. The destroy begins only once the copy is durable.
     */
    Set<String> supersededOld(List<RegionInfo> regions) {
        Set<String> result = new HashSet<>();
        for (RegionInfo r : regions) {
            for (NamespaceInfo old : r.namespaces()) {
                Optional<VolumeNamespaces.Owned> owner = naming.owner(old);
                if (owner.isEmpty() || !old.active() || serving.test(old)) {
                    continue;
                }
                for (RegionInfo r2 : regions) {
                    for (NamespaceInfo newer : r2.namespaces()) {
                        if (naming.isVolume(newer, owner.get().volumeId()) && serving.test(newer)
                                && VolumeNamespaces.isNext(owner.get().generation(), generation(newer))) {
                            result.add(old.devname());
                        }
                    }
                }
            }
        }
        return result;
    }

    int generation(NamespaceInfo ns) {
        return naming.owner(ns).map(VolumeNamespaces.Owned::generation).orElse(-1);
    }
}
