package dev.pmemcsi.device.emulated;

import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.UnmanagedExtent;
import dev.pmemcsi.pmemnative.NativeException;
import java.io.IOException;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bytes of each volume's extent in the region files: the label at its start, written before
 * its loop device exists and cleared when a creation is undone, and the zeroing of the whole
 * extent when it is released, reported to the {@link OperationListener} as an erase.
 */
final class VolumeExtents {

    private static final Logger LOG = LoggerFactory.getLogger(VolumeExtents.class);

    private final RegionFiles regions;
    private final long alignment;
    private final ExtentEraser eraser = new ExtentEraser();
    private final OperationListener listener;

    VolumeExtents(RegionFiles regions, long alignment, OperationListener listener) {
        this.regions = regions;
        this.alignment = alignment;
        this.listener = listener;
    }

    void writeLabel(VolumeRecord r) throws DeviceException {
        try {
            ExtentLabel.write(regions.path(r.region()), r);
        } catch (IOException e) {
            throw new DeviceException("cannot write the label of volume " + r.id() + ": " + e, e);
        }
    }

    void clearLabel(VolumeRecord r) throws DeviceException {
        try {
            ExtentLabel.clear(regions.path(r.region()), r);
        } catch (IOException e) {
            throw new DeviceException("cannot clear the label of volume " + r.id() + ": " + e, e);
        }
    }

    /** Volumes recorded by a driver that did not label extents get their labels now. */
    void writeMissingLabels(List<VolumeRecord> readyRows) throws DeviceException {
        for (VolumeRecord r : readyRows) {
            RegionFile f = regions.get(r.region());
            try {
                if (!ExtentLabel.read(f.path(), r, f.size(), alignment).equals(Optional.of(r))) {
                    ExtentLabel.write(f.path(), r);
                    LOG.info("wrote the label of volume {} at {} of {}", r.id(), r.offset(), r.region());
                }
            } catch (IOException e) {
                throw new DeviceException("cannot write the label of volume " + r.id() + " into " + f.path() + ": " + e, e);
            }
        }
    }

    /**
     * Zeroes a deleted volume's extent, so that it becomes free. A failure fails the delete and
     * keeps the space reserved when the row asks for the erase; otherwise it is only logged.
     */
    void release(VolumeRecord r) throws DeviceException {
        try {
            listener.timed(OperationListener.Kind.ERASE, "volume " + r.id() + " (" + r.rawBytes() + " bytes of " + r.region() + ")",
                    () -> eraser.erase(regions.path(r.region()), r.offset(), r.rawBytes(), "volume " + r.id()));
        } catch (NativeException e) {
            if (r.eraseOnDelete()) {
                throw new DeviceException("cannot erase volume " + r.id() + ": " + e.getMessage()
                        + "; its space stays reserved until a retried delete succeeds", e);
            }
            LOG.warn("could not zero the extent of volume {} (erase was not requested): {}", r.id(), e.getMessage());
            // A label left behind would bring the volume back if the table were ever rebuilt.
            clearLabel(r);
        }
    }

    /** Zeroes data no volume label accounts for, with the operator's consent. */
    void eraseUnaccounted(UnmanagedExtent u) throws NativeException {
        eraser.erase(regions.path(u.region()), u.offsetBytes(), u.sizeBytes(), "unaccounted data in " + u.region());
    }
}
