package dev.pmemcsi.driver;

import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.device.OutOfRangeException;
import dev.pmemcsi.device.VolumeAccess;
import dev.pmemcsi.csi.v1.VolumeCapability.AccessMode.Mode;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Which volume capabilities the driver supports: node-local PMEM can only serve one node, as a
 * filesystem (ext4 or xfs) or as a raw block device.
 */
public final class VolumeCapabilities {

    public static final String EXT4 = "ext4";
    public static final String XFS = "xfs";
    /** The filesystem of a mount capability that names none. */
    public static final String DEFAULT_FS = EXT4;

    private static final Set<Mode> SINGLE_NODE = Set.of(
            Mode.SINGLE_NODE_WRITER, Mode.SINGLE_NODE_READER_ONLY,
            Mode.SINGLE_NODE_SINGLE_WRITER, Mode.SINGLE_NODE_MULTI_WRITER);

    /**
     * The smallest device mkfs.xfs accepts with the driver's 2 MiB stripe geometry: below it the
     * internal log cannot reach the 64 MiB xfsprogs requires (514 MiB with xfsprogs 6.1).
     */
    public static final long MIN_XFS_BYTES = 520L << 20;

    private VolumeCapabilities() {}

    /**
     * The smallest usable size a volume needs so that every capability can be served: xfs needs
     * {@link #MIN_XFS_BYTES}, ext4 and raw block need nothing special.
     */
    public static long minimumUsableBytes(List<VolumeCapability> caps) {
        long min = 0;
        for (VolumeCapability cap : caps) {
            if (cap.hasMount() && XFS.equals(fsType(cap))) {
                min = Math.max(min, MIN_XFS_BYTES);
            }
        }
        return min;
    }

    /**
     * {@code requiredBytes} raised to what the capabilities need, or an explanation when the
     * limit does not leave room for that.
     */
    public static long raiseToMinimum(List<VolumeCapability> caps, long requiredBytes, long limitBytes)
            throws SizeBelowMinimumException {
        long min = minimumUsableBytes(caps);
        if (requiredBytes == 0 || requiredBytes >= min) {
            return requiredBytes;
        }
        if (limitBytes != 0 && limitBytes < min) {
            throw new SizeBelowMinimumException("an xfs volume needs at least " + min + " usable bytes ("
                    + (min >> 20) + " MiB), above limit_bytes " + limitBytes);
        }
        return min;
    }

    /**
     * The size limit leaves no room for the smallest filesystem of the requested type: a size out
     * of range, which the RPC edge answers as such.
     */
    public static final class SizeBelowMinimumException extends OutOfRangeException {
        private static final long serialVersionUID = 1L;

        public SizeBelowMinimumException(String message) {
            super(message);
        }
    }

    /** Validates every capability; the message says which one is unsupported and why. */
    public static void validate(List<VolumeCapability> caps) throws InvalidRequestException {
        if (caps.isEmpty()) {
            throw new InvalidRequestException("volume_capabilities must not be empty");
        }
        for (VolumeCapability cap : caps) {
            validate(cap);
        }
    }

    public static void validate(VolumeCapability cap) throws InvalidRequestException {
        String problem = problem(cap);
        if (problem != null) {
            throw new InvalidRequestException(problem);
        }
    }

    /** Why the capability is unsupported, or null when it is supported. */
    public static String problem(VolumeCapability cap) {
        if (!cap.hasAccessMode()) {
            return "volume capability has no access_mode";
        }
        Mode mode = cap.getAccessMode().getMode();
        if (!SINGLE_NODE.contains(mode)) {
            return "access mode " + mode + " is not supported: PMEM is local to one node;"
                    + " use a single-node mode such as SINGLE_NODE_WRITER";
        }
        switch (cap.getAccessTypeCase()) {
            case BLOCK:
                return null;
            case MOUNT:
                String fs = cap.getMount().getFsType();
                if (!fs.isEmpty() && !fs.equals(EXT4) && !fs.equals(XFS)) {
                    return "filesystem type \"" + fs + "\" is not supported; use ext4 or xfs";
                }
                return MountFlags.problem(fs.isEmpty() ? DEFAULT_FS : fs, cap.getMount().getMountFlagsList());
            default:
                return "volume capability has neither mount nor block access type";
        }
    }

    /**
     * What a volume must serve to satisfy every capability: the one filesystem the mount
     * capabilities ask for, and block access when a block capability is among them. The
     * capabilities must be valid ({@link #validate}).
     *
     * @throws InvalidRequestException the mount capabilities ask for two different filesystems,
     *                                 which no volume can hold at once
     */
    public static VolumeAccess access(List<VolumeCapability> caps) throws InvalidRequestException {
        String fs = "";
        boolean block = false;
        for (VolumeCapability cap : caps) {
            if (cap.hasBlock()) {
                block = true;
            } else if (cap.hasMount()) {
                String wanted = fsType(cap);
                if (!fs.isEmpty() && !fs.equals(wanted)) {
                    throw new InvalidRequestException("volume_capabilities ask for both " + fs + " and " + wanted
                            + "; a volume holds one filesystem");
                }
                fs = wanted;
            }
        }
        return new VolumeAccess(fs, block);
    }

    /** The filesystem a mount capability asks for, with the default applied. */
    public static String fsType(VolumeCapability cap) {
        String fs = cap.getMount().getFsType();
        return fs.isEmpty() ? DEFAULT_FS : fs.toLowerCase(Locale.ROOT);
    }

    public static boolean isReadOnlyMode(VolumeCapability cap) {
        return cap.getAccessMode().getMode() == Mode.SINGLE_NODE_READER_ONLY;
    }
}
