package dev.pmemcsi.device.emulated;

import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.UnmanagedExtent;
import dev.pmemcsi.pmemnative.loop.LoopDevice;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * The volumes of the emulated backend as the driver knows them: the rows of the namespace table,
 * each change durable in {@code volumes.json} before memory changes; the loop device of each
 * volume; the volumes start-up could not finish because their device is in use; and the space
 * held by loop devices that are not the driver's.
 *
 * <p>Its monitor is the table lock. It is held for bookkeeping only, never while devices are
 * touched; a caller that must check and then change (a create reserving its extent) holds it
 * across both with {@code synchronized (table)}.
 */
final class VolumeTable {

    private final TableStore store;
    private final Map<String, VolumeRecord> records = new TreeMap<>();
    private final Map<String, LoopDevice> devices = new HashMap<>();
    /** Volumes start-up could not finish because their loop device is in use. */
    private final Set<String> stuck = new HashSet<>();
    private List<UnmanagedExtent> blocked = List.of();

    VolumeTable(TableStore store) {
        this.store = store;
    }

    TableStore store() {
        return store;
    }

    /** Starts over from {@code rows}, as loaded on start; no volume has a device yet. */
    synchronized void reset(List<VolumeRecord> rows) {
        records.clear();
        devices.clear();
        stuck.clear();
        rows.forEach(r -> records.put(r.id(), r));
    }

    synchronized VolumeRecord row(String id) {
        return records.get(id);
    }

    synchronized LoopDevice device(String id) {
        return devices.get(id);
    }

    synchronized List<VolumeRecord> rows() {
        return List.copyOf(records.values());
    }

    synchronized List<VolumeRecord> rows(VolumeState state) {
        return records.values().stream().filter(r -> r.state() == state).toList();
    }

    /** A volume that is handed out: READY and with its loop device. */
    synchronized Optional<PmemVolume> volume(String id) {
        VolumeRecord r = records.get(id);
        LoopDevice loop = devices.get(id);
        return r != null && r.state() == VolumeState.READY && loop != null ? Optional.of(toVolume(r, loop)) : Optional.empty();
    }

    synchronized List<PmemVolume> volumes() {
        List<PmemVolume> result = new ArrayList<>();
        for (VolumeRecord r : records.values()) {
            if (r.state() == VolumeState.READY && devices.containsKey(r.id())) {
                result.add(toVolume(r, devices.get(r.id())));
            }
        }
        return result;
    }

    static PmemVolume toVolume(VolumeRecord r, LoopDevice loop) {
        return new PmemVolume(r.id(), r.region(), r.mode(), r.rawBytes(), r.usableBytes(), loop.device(), false,
                r.eraseAfter(), r.attributes(), r.capacity(), r.volumeAccess());
    }

    /** Records the row: durable before the in-memory table changes. */
    synchronized void put(VolumeRecord r) throws DeviceException {
        Map<String, VolumeRecord> next = new TreeMap<>(records);
        next.put(r.id(), r);
        save(next.values());
        records.put(r.id(), r);
    }

    /** Records several rows in one durable write: all of them or none. */
    synchronized void putAll(List<VolumeRecord> rows) throws DeviceException {
        Map<String, VolumeRecord> next = new TreeMap<>(records);
        rows.forEach(r -> next.put(r.id(), r));
        save(next.values());
        rows.forEach(r -> records.put(r.id(), r));
    }

    synchronized void remove(String id) throws DeviceException {
        if (!records.containsKey(id)) {
            return;
        }
        Map<String, VolumeRecord> next = new TreeMap<>(records);
        next.remove(id);
        save(next.values());
        records.remove(id);
        stuck.remove(id);
    }

    private void save(Collection<VolumeRecord> next) throws DeviceException {
        try {
            store.save(List.copyOf(next));
        } catch (IOException e) {
            throw new DeviceException("cannot write the namespace table " + store.file() + ": " + e, e);
        }
    }

    synchronized void putDevice(String id, LoopDevice loop) {
        devices.put(id, loop);
    }

    synchronized void removeDevice(String id) {
        devices.remove(id);
    }

    /** What start-up left: volumes it could not finish, and space it found held by others. */
    synchronized void block(Set<String> stuckIds, List<UnmanagedExtent> unmanaged) {
        stuck.addAll(stuckIds);
        blocked = List.copyOf(unmanaged);
    }

    /** Where the volumes and the blocked space leave room. */
    synchronized RegionSpace space(Map<String, Long> regionSizes, long alignment) {
        return new RegionSpace(regionSizes, alignment, records.values(), blocked);
    }

    /**
     * The loop devices no row explains, plus the volumes start-up had to leave unfinished; the
     * space they cover is blocked from now on.
     *
     * @param before   the rows when the devices began to be listed: a row may appear (create) or
     *                 vanish (delete) meanwhile, and a device either snapshot explains is accounted for
     * @param observed the loop devices over the region files
     */
    synchronized List<UnmanagedExtent> reblock(List<VolumeRecord> before, List<Recovery.ObservedLoop> observed,
                                               Map<String, Long> regionSizes) {
        List<VolumeRecord> both = new ArrayList<>(before);
        both.addAll(records.values());
        List<UnmanagedExtent> found = new ArrayList<>(Recovery.unaccounted(both, observed, regionSizes));
        for (String id : stuck) {
            VolumeRecord r = records.get(id);
            if (r != null) {
                found.add(new UnmanagedExtent(r.region(), "volume " + id, r.offset(), r.rawBytes(),
                        "volume is " + r.state().name().toLowerCase() + " but its loop device is in use"));
            }
        }
        blocked = List.copyOf(found);
        return found;
    }
}
