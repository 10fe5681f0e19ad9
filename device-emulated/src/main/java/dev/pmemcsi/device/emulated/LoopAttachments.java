package dev.pmemcsi.device.emulated;

import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.VolumeInUseException;
import dev.pmemcsi.pmemnative.BlockDevice;
import dev.pmemcsi.pmemnative.NativeException;
import dev.pmemcsi.pmemnative.loop.LoopDevice;
import dev.pmemcsi.pmemnative.loop.LoopDevices;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import jnr.constants.platform.Errno;

/**
 * The loop devices that expose volumes: one over each volume's extent, past the bytes that stand
 * in for the mode's metadata, labelled with the volume ID so that it can be recognised after a
 * restart. Detaching waits for the kernel, which frees a device only on its last close.
 */
final class LoopAttachments {

    private static final Duration DETACH_TIMEOUT = Duration.ofSeconds(10);

    private final LoopDevices loops;
    private final RegionFiles regions;

    LoopAttachments(LoopDevices loops, RegionFiles regions) {
        this.loops = loops;
        this.regions = regions;
    }

    LoopDevice attach(VolumeRecord r) throws NativeException {
        return loops.attach(regions.path(r.region()), r.deviceOffset(), r.usableBytes(), Recovery.label(r.id()));
    }

    /** Detaches {@code loop}; false when it is still open by another process after the timeout. */
    boolean detach(LoopDevice loop) throws NativeException {
        return loops.detach(loop, DETACH_TIMEOUT);
    }

    /**
     * Grows the volume's device to the size its row records, in place: its first byte stays, a
     * filesystem mounted on it stays mounted and sees the larger device.
     */
    LoopDevice resize(LoopDevice loop, VolumeRecord r) throws NativeException {
        return loops.resize(loop, r.usableBytes());
    }

    /**
     * Whether loop N still shows this volume, and not a device someone else bound under that
     * number; a device still at its size from before a recorded growth is the volume's too.
     */
    boolean stillOurs(LoopDevice loop, VolumeRecord rec) throws DeviceException {
        try {
            return loops.get(loop.number())
                    .filter(now -> now.offset() == rec.deviceOffset() && now.sizeLimit() > 0
                            && now.sizeLimit() <= rec.usableBytes() && now.fileName().equals(Recovery.label(rec.id())))
                    .isPresent();
        } catch (NativeException e) {
            throw new DeviceException("volume " + rec.id() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Opens the volume's device exclusively: held from here on, nobody can mount it while it goes
     * away. Null when the device is gone already.
     *
     * @throws VolumeInUseException when it is mounted or open exclusively
     */
    BlockDevice claim(String volumeId, LoopDevice loop) throws DeviceException {
        try {
            return BlockDevice.open(loop.device(), true);
        } catch (NativeException e) {
            if (e.is(Errno.EBUSY)) {
                throw new VolumeInUseException("volume " + volumeId + ": " + loop.device() + " is mounted or open exclusively");
            }
            if (!e.is(Errno.ENOENT) && !e.is(Errno.ENXIO)) {
                throw new DeviceException("volume " + volumeId + ": " + e.getMessage(), e);
            }
            return null;
        }
    }

    /** Unbinds a claimed device; the kernel detaches it on the last close. */
    void release(BlockDevice claimed) throws NativeException {
        loops.clearFd(claimed);
    }

    boolean awaitDetached(LoopDevice loop) {
        return loops.awaitDetached(loop.number(), DETACH_TIMEOUT);
    }

    /** Bound loop devices over the region files; {@code checkBusy} opens each one exclusively for a moment. */
    List<Recovery.ObservedLoop> observe(boolean checkBusy) throws NativeException {
        List<Recovery.ObservedLoop> result = new ArrayList<>();
        for (LoopDevice l : loops.list()) {
            for (RegionFile f : regions.all()) {
                if (f.backs(l)) {
                    boolean busy = false;
                    if (checkBusy) {
                        try {
                            busy = BlockDevice.isBusy(l.device());
                        } catch (NativeException e) {
                            if (e.is(Errno.ENOENT) || e.is(Errno.ENXIO)) {
                                continue; // detached meanwhile
                            }
                            throw e;
                        }
                    }
                    result.add(new Recovery.ObservedLoop(l, f.name(), busy));
                    break;
                }
            }
        }
        return result;
    }
}
