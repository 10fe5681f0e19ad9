package dev.pmemcsi.device;

import java.util.ArrayList;
import java.util.List;

/**
 * What a volume was created for: a filesystem of one type, raw block access, or both. It is
 * recorded with the volume, so that a repeated create asking for something else is refused rather
 * than answered with a volume that fails when it is staged.
 *
 * @param filesystem {@link #EXT4}, {@link #XFS}, or empty when the volume serves no filesystem
 * @param block      whether the volume serves raw block access
 */
public record VolumeAccess(String filesystem, boolean block) {

    public static final String EXT4 = "ext4";
    public static final String XFS = "xfs";

    /** Volumes of a driver version that recorded nothing: they accept every request. */
    public static final VolumeAccess UNRECORDED = new VolumeAccess("", false);

    public VolumeAccess {
        filesystem = filesystem == null ? "" : filesystem;
        if (!filesystem.isEmpty() && !filesystem.equals(EXT4) && !filesystem.equals(XFS)) {
            throw new IllegalArgumentException("unsupported filesystem: " + filesystem);
        }
    }

    public static VolumeAccess filesystem(String fsType) {
        return new VolumeAccess(fsType, false);
    }

    public static VolumeAccess blockOnly() {
        return new VolumeAccess("", true);
    }

    public boolean isRecorded() {
        return block || !filesystem.isEmpty();
    }

    /** Whether a volume created for this also serves {@code wanted}. An unrecorded volume serves anything. */
    public boolean serves(VolumeAccess wanted) {
        if (!isRecorded()) {
            return true;
        }
        return (!wanted.block || block) && (wanted.filesystem.isEmpty() || wanted.filesystem.equals(filesystem));
    }

    /** Whether a filesystem of {@code fsType} may be made or mounted on the volume. */
    public boolean servesFilesystem(String fsType) {
        return !isRecorded() || filesystem.equals(fsType);
    }

    /**
     * A compact text form for records: {@code ext4}, {@code xfs}, {@code block}, {@code ext4+block},
     * {@code xfs+block}, or empty when nothing is recorded.
     */
    public String token() {
        if (block) {
            return filesystem.isEmpty() ? "block" : filesystem + "+block";
        }
        return filesystem;
    }

    /** The inverse of {@link #token()}; null or empty is {@link #UNRECORDED}. */
    public static VolumeAccess ofToken(String token) {
        if (token == null || token.isEmpty()) {
            return UNRECORDED;
        }
        boolean block = token.equals("block") || token.endsWith("+block");
        String fs = token.equals("block") ? "" : token.endsWith("+block") ? token.substring(0, token.length() - 6) : token;
        return new VolumeAccess(fs, block);
    }

    /** For messages: {@code ext4 filesystem}, {@code raw block access}, or both. */
    public String describe() {
        if (!isRecorded()) {
            return "no recorded use";
        }
        List<String> parts = new ArrayList<>();
        if (!filesystem.isEmpty()) {
            parts.add("an " + filesystem + " filesystem");
        }
        if (block) {
            parts.add("raw block access");
        }
        return String.join(" and ", parts);
    }
}
