package dev.pmemcsi.node;

import dev.pmemcsi.csi.v1.VolumeCapability.AccessMode.Mode;
import dev.pmemcsi.device.VolumeExistsException;
import dev.pmemcsi.driver.PreconditionFailedException;
import java.util.List;
import java.util.Optional;

/**
 * The CSI spec's rules for a repeated or overlapping NodeStageVolume / NodePublishVolume, as pure
 * functions of the records: empty means "go ahead (or answer OK if it is already in place)", and
 * otherwise the refusal to throw: a {@link PreconditionFailedException} for a request that must
 * wait for something else to change, a {@link VolumeExistsException} (ALREADY_EXISTS) for one that
 * contradicts what is in place.
 */
public final class Conflicts {

    private Conflicts() {}

    /**
     * @param existing the volume's staging record, if any
     * @param wanted   what the request asks for
     */
    public static Optional<Exception> stage(Optional<Attachment> existing, Attachment wanted) {
        if (existing.isEmpty()) {
            return Optional.empty();
        }
        Attachment e = existing.get();
        if (!e.path().equals(wanted.path())) {
            return Optional.of(new PreconditionFailedException("volume " + wanted.volumeId()
                    + " is already staged at " + e.path() + "; unstage it there first"));
        }
        if (!e.compatibleWith(wanted)) {
            return Optional.of(new VolumeExistsException("volume " + wanted.volumeId()
                    + " is already staged at " + e.path() + " with an incompatible capability ("
                    + e.differences(wanted) + ")"));
        }
        return Optional.empty();
    }

    /**
     * @param atTarget     the record of the target path, if any
     * @param ofVolume     every publication of the volume
     * @param wanted       what the request asks for
     */
    public static Optional<Exception> publish(Optional<Attachment> atTarget, List<Attachment> ofVolume, Attachment wanted) {
        if (atTarget.isPresent()) {
            Attachment e = atTarget.get();
            if (!e.volumeId().equals(wanted.volumeId())) {
                return Optional.of(new VolumeExistsException("target " + wanted.path()
                        + " already holds volume " + e.volumeId()));
            }
            if (!e.compatibleWith(wanted)) {
                return Optional.of(new VolumeExistsException("volume " + wanted.volumeId()
                        + " is already published at " + e.path() + " with an incompatible capability or"
                        + " read-only flag (" + e.differences(wanted) + ")"));
            }
            return Optional.empty();
        }
        for (Attachment other : ofVolume) {
            if (other.path().equals(wanted.path())) {
                continue;
            }
            if (singleWriter(other) || singleWriter(wanted)) {
                return Optional.of(new PreconditionFailedException("volume " + wanted.volumeId()
                        + " has access mode SINGLE_NODE_SINGLE_WRITER and is already published at "
                        + other.path()));
            }
        }
        return Optional.empty();
    }

    private static boolean singleWriter(Attachment a) {
        return Mode.SINGLE_NODE_SINGLE_WRITER.name().equals(a.accessMode());
    }
}
