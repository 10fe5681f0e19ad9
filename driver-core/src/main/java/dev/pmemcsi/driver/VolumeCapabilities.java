package dev.pmemcsi.driver;

import dev.pmemcsi.csi.v1.VolumeCapability;
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

    private VolumeCapabilities() {}

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
                for (String flag : cap.getMount().getMountFlagsList()) {
                    String p = MountFlags.problem(flag);
                    if (p != null) {
                        return p;
                    }
                }
                return null;
            default:
                return "volume capability has neither mount nor block access type";
        }
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
