package dev.pmemcsi.device.emulated;

import dev.pmemcsi.device.DeviceBusyException;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.Extent;
import dev.pmemcsi.device.FaultPoints;
import dev.pmemcsi.device.NoSpaceException;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.RegionLayout;
import dev.pmemcsi.device.VolumeInUseException;
import dev.pmemcsi.device.VolumeNotFoundException;
import dev.pmemcsi.pmemnative.BlockDevice;
import dev.pmemcsi.pmemnative.NativeException;
import dev.pmemcsi.pmemnative.loop.LoopDevice;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Grows emulated volumes: in place when the space after the extent is free, else by moving a
 * volume that is not in use to a larger free extent. The caller holds the volume's lock.
 */
final class VolumeResizer {

    private static final Logger LOG = LoggerFactory.getLogger(VolumeResizer.class);

    private final Map<String, Long> regionSizes;
    private final long alignment;
    private final RegionFiles regions;
    private final VolumeTable table;
    private final LoopAttachments loops;
    private final VolumeExtents extents;
    private final ExtentCopier copier = new ExtentCopier();

    VolumeResizer(Map<String, Long> regionSizes, long alignment, RegionFiles regions, VolumeTable table,
                  LoopAttachments loops, VolumeExtents extents) {
        this.regionSizes = regionSizes;
        this.alignment = alignment;
        this.regions = regions;
        this.table = table;
        this.loops = loops;
        this.extents = extents;
    }

    /**
     * Grows the volume in place: its extent takes the free space right after it, and its loop
     * device grows while it may be mounted. The grown row, and the label that copies it, are
     * durable before the device grows, so a crash leaves a row that start() finishes by growing the
     * device ({@link Recovery}); the grown space is never free in between. A row already grown
     * whose device did not follow (an earlier attempt failed) has its device grown by a retry.
     * When the space after the volume is taken, a volume not in use moves ({@link #relocate}).
     */
    PmemVolume expand(String volumeId, long requiredBytes, long limitBytes, boolean inUse) throws DeviceException {
        VolumeRecord rec;
        VolumeRecord grown;
        LoopDevice loop;
        boolean move = false;
        synchronized (table) {
            rec = table.row(volumeId);
            loop = table.device(volumeId);
            if (rec == null || rec.state() == VolumeState.DELETING) {
                throw new VolumeNotFoundException("volume " + volumeId + " not found");
            }
            if (rec.state() != VolumeState.READY || loop == null) {
                throw new DeviceBusyException("volume " + volumeId + " is " + rec.state().name().toLowerCase()
                        + "; retry once that has finished");
            }
            long largestRegion = regionSizes.values().stream().mapToLong(Long::longValue).max().orElse(0);
            grown = VolumeGrowth.grown(rec, requiredBytes, limitBytes, alignment, largestRegion).orElse(rec);
            if (grown.rawBytes() > rec.rawBytes()) {
                RegionLayout layout = table.space(regionSizes, alignment).layout(rec.region());
                if (!VolumeGrowth.freeAfter(layout, rec, grown.rawBytes())) {
                    if (inUse) {
                        throw cannotGrowInPlace(rec, grown, layout);
                    }
                    move = true;
                }
            }
            if (grown != rec && !move) {
                table.put(grown);
            }
        }
        if (move) {
            return relocate(rec, loop, grown.rawBytes(), limitBytes);
        }
        if (grown != rec) {
            FaultPoints.reached(EmulatedDeviceManager.FAULT_EXPAND_RECORDED);
            extents.writeLabel(grown);
            FaultPoints.reached(EmulatedDeviceManager.FAULT_EXPAND_LABELLED);
        }
        if (loop.sizeLimit() != grown.usableBytes()) {
            loop = growDevice(grown, loop);
            FaultPoints.reached(EmulatedDeviceManager.FAULT_EXPAND_RESIZED);
        }
        if (grown != rec) {
            LOG.info("grew volume {} in place: capacity {} -> {}, extent {}+{} -> {}+{} of {}, {}", volumeId,
                    rec.capacity(), grown.capacity(), rec.offset(), rec.rawBytes(), grown.offset(), grown.rawBytes(),
                    grown.region(), loop.device());
        }
        return VolumeTable.toVolume(grown, loop);
    }

    /** Grows the device to the recorded size; on failure the row stays grown and a retry or start() finishes. */
    private LoopDevice growDevice(VolumeRecord grown, LoopDevice loop) throws DeviceException {
        if (!loops.stillOurs(loop, grown)) {
            throw new DeviceException("volume " + grown.id() + ": " + loop.device() + " no longer shows the volume; "
                    + "a restart of the driver reattaches it at the recorded size of " + grown.usableBytes() + " bytes");
        }
        try {
            LoopDevice resized = loops.resize(loop, grown);
            table.putDevice(grown.id(), resized);
            return resized;
        } catch (NativeException e) {
            throw new DeviceException("volume " + grown.id() + " is recorded at " + grown.usableBytes()
                    + " bytes, but " + loop.device() + " could not grow: " + e.getMessage()
                    + "; a retried expansion or a restart of the driver grows it", e);
        }
    }

    /**
     * The refusal when the space right after the volume is not free: a volume in use cannot move;
     * one that is not in use could, but this backend grows volumes in place only.
     */
    private DeviceException cannotGrowInPlace(VolumeRecord rec, VolumeRecord grown, RegionLayout layout) {
        long from = rec.extent().end();
        long to = rec.offset() + grown.rawBytes();
        String holder;
        if (to > layout.size()) {
            holder = "the region ends at byte " + layout.size();
        } else {
            holder = table.rows().stream()
                    .filter(r -> r.region().equals(rec.region()) && !r.id().equals(rec.id())
                            && r.extent().overlaps(new Extent(from, to - from)))
                    .map(r -> "volume " + r.id() + " starts at byte " + r.offset())
                    .findFirst().orElse("space there is held by a device the driver does not manage");
        }
        String what = "volume " + rec.id() + " cannot grow in place from " + rec.rawBytes() + " to " + grown.rawBytes()
                + " bytes of " + rec.region() + ": the bytes " + from + ".." + to + " after it are not free (" + holder + ")";
        return new VolumeInUseException(what + "; the volume has to move to grow, and a volume in use cannot move: "
                + "it must be unpublished and unstaged first, or the space after it freed");
    }

    /**
     * Grows a volume that is not in use by moving it to a free extent of the new size. Every step
     * leaves a table from which start() ends with one complete copy: until the switch, the target
     * extent is held by a DELETING row (a start erases it, the volume stays where it was); the
     * switch is one write that names the target in the volume's row and hands the old extent to
     * that DELETING row (a start detaches the old device, erases the old extent, attaches the new).
     */
    private PmemVolume relocate(VolumeRecord rec, LoopDevice loop, long rawBytes, long limitBytes) throws DeviceException {
        String id = rec.id();
        VolumeRecord target;
        VolumeRecord reserved;
        synchronized (table) {
            RegionSpace space = table.space(regionSizes, alignment);
            Optional<RegionLayout> region = RegionLayout.chooseRegion(space.layouts(), rawBytes);
            if (region.isEmpty()) {
                throw new NoSpaceException("volume " + id + " cannot grow to " + rawBytes + " bytes: the space after it in "
                        + rec.region() + " is taken, and no region has " + rawBytes + " contiguous free bytes to move it to"
                        + " (largest free extent: " + space.layouts().stream().mapToLong(RegionLayout::maxExtentBytes).max().orElse(0) + ")");
            }
            Extent e = region.get().bestFit(rawBytes).orElseThrow();
            target = VolumeGrowth.moved(rec, region.get().region(), e.offset(), rawBytes, limitBytes);
            reserved = VolumeGrowth.moveHolder(target);
            table.put(reserved);
        }
        FaultPoints.reached(EmulatedDeviceManager.FAULT_MOVE_RESERVED);
        BlockDevice claimed;
        try {
            claimed = loops.stillOurs(loop, rec) ? loops.claim(id, loop) : null;
        } catch (DeviceException e) {
            abandonMove(reserved);
            if (e instanceof VolumeInUseException) {
                throw new VolumeInUseException(e.getMessage() + "; the volume has to move to grow, which needs it unused", e);
            }
            throw e;
        }
        try {
            try {
                if (claimed != null) {
                    claimed.fsync();
                }
                copier.copy(regions.path(rec.region()), rec.deviceOffset(), regions.path(target.region()),
                        target.deviceOffset(), rec.usableBytes());
            } catch (IOException | NativeException e) {
                abandonMove(reserved);
                throw new DeviceException("cannot copy volume " + id + " to its new extent: " + e.getMessage(), e);
            }
            FaultPoints.reached(EmulatedDeviceManager.FAULT_MOVE_COPIED);
            VolumeRecord oldExtent = VolumeGrowth.moveHolder(rec);
            try {
                table.putAll(List.of(target, oldExtent));
            } catch (DeviceException e) {
                abandonMove(reserved);
                throw e;
            }
            FaultPoints.reached(EmulatedDeviceManager.FAULT_MOVE_SWITCHED);
            return finishMove(rec, target, oldExtent, loop, claimed);
        } finally {
            if (claimed != null) {
                claimed.close();
            }
        }
    }

    /** After the switch, only forward: the old device goes, the new one comes, the old extent is erased. */
    private PmemVolume finishMove(VolumeRecord rec, VolumeRecord target, VolumeRecord oldExtent, LoopDevice loop,
                                  BlockDevice claimed) throws DeviceException {
        String id = rec.id();
        extents.writeLabel(target);
        table.removeDevice(id);
        boolean oldGone = true;
        if (claimed != null) {
            try {
                loops.release(claimed);
            } catch (NativeException e) {
                throw new DeviceException("volume " + id + " moved, but its old device " + loop.device()
                        + " cannot be detached: " + e.getMessage() + "; a restart of the driver finishes the move", e);
            }
            claimed.close();
            oldGone = loops.awaitDetached(loop);
        }
        LoopDevice moved;
        try {
            moved = loops.attach(target);
        } catch (NativeException e) {
            throw new DeviceException("volume " + id + " moved, but no loop device could be attached: " + e.getMessage()
                    + "; a restart of the driver attaches it", e);
        }
        table.putDevice(id, moved);
        FaultPoints.reached(EmulatedDeviceManager.FAULT_MOVE_ATTACHED);
        if (oldGone) {
            extents.release(oldExtent);
            FaultPoints.reached(EmulatedDeviceManager.FAULT_MOVE_ERASED);
            table.remove(oldExtent.id());
        } else {
            LOG.warn("volume {} moved; its old device {} is still open by another process, so the old extent {}+{} of {}"
                    + " stays reserved until the next start erases it", id, loop.device(), rec.offset(), rec.rawBytes(), rec.region());
        }
        LOG.info("grew volume {} by moving it: capacity {} -> {}, extent {}+{} of {} -> {}+{} of {}, {} -> {}", id,
                rec.capacity(), target.capacity(), rec.offset(), rec.rawBytes(), rec.region(), target.offset(),
                target.rawBytes(), target.region(), loop.device(), moved.device());
        return VolumeTable.toVolume(target, moved);
    }

    /** Gives back the target of a move that did not happen: erased (it may hold part of a copy) and freed. */
    private void abandonMove(VolumeRecord reserved) {
        try {
            extents.release(reserved);
            table.remove(reserved.id());
        } catch (DeviceException e) {
            LOG.warn("cannot free the target extent of an abandoned move ({}); start() will: {}", reserved.id(), e.getMessage());
        }
    }
}
