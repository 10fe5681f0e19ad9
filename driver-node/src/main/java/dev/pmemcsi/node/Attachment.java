package dev.pmemcsi.node;

import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.driver.VolumeCapabilities;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;

/**
 * What the node service did, or is about to do, with a volume at one path: a staging or a
 * publication. One record per path is kept on disk, written before the mount it describes, so
 * that after a crash the driver knows which mounts are its own and what was half done.
 *
 * @param kind        staged or published
 * @param phase       how far the operation got
 * @param volumeId    the CSI volume ID as the CO sent it
 * @param path        the staging or target path as the CO sent it (normalised)
 * @param realPath    the same path with its parent's symlinks resolved: what is mounted
 * @param access      mount or raw block
 * @param fsType      the filesystem of a mount-access volume; empty for block
 * @param mountFlags  the capability's mount flags
 * @param accessMode  the capability's access mode name, e.g. SINGLE_NODE_WRITER
 * @param readOnly    a read-only publication
 * @param stagingPath for a publication: the staging path it binds from; empty for ephemeral volumes
 * @param ephemeral   a CSI ephemeral inline volume, which the node service created and deletes
 * @param deviceId    the device manager's ID of the volume (differs from volumeId for ephemeral volumes)
 * @param devicePath  the block device
 * @param eraseAfter  for ephemeral volumes: erase the data when deleting it
 * @see #staging
 * @see #publication
 * @see #ephemeral
 */
public record Attachment(
        Kind kind,
        Phase phase,
        String volumeId,
        Path path,
        Path realPath,
        Access access,
        String fsType,
        List<String> mountFlags,
        String accessMode,
        boolean readOnly,
        String stagingPath,
        boolean ephemeral,
        String deviceId,
        Path devicePath,
        boolean eraseAfter) {

    public enum Kind { STAGED, PUBLISHED }

    /**
     * PENDING: recorded, the mount (and for ephemeral volumes the device) may or may not exist yet.
     * DONE: in place. REMOVING: being torn down.
     */
    public enum Phase { PENDING, DONE, REMOVING }

    public enum Access {
        MOUNT, BLOCK;

        static Access of(VolumeCapability cap) {
            return cap.hasBlock() ? BLOCK : MOUNT;
        }
    }

    /**
     * What a request's volume capability asks of a staging or publication.
     *
     * @param fsType     empty for block access
     * @param accessMode the access mode's name, e.g. SINGLE_NODE_WRITER
     */
    public record Capability(Access access, String fsType, List<String> mountFlags, String accessMode) {

        /** The capability of a request that {@link VolumeCapabilities#validate} accepted. */
        static Capability of(VolumeCapability cap) {
            return new Capability(Access.of(cap), cap.hasMount() ? VolumeCapabilities.fsType(cap) : "",
                    cap.hasMount() ? List.copyOf(cap.getMount().getMountFlagsList()) : List.of(),
                    cap.getAccessMode().getMode().name());
        }
    }

    /**
     * A staging of a persistent volume, about to be made.
     *
     * @param eraseAfter the volume's own setting, kept for the record's reader
     */
    public static Attachment staging(String volumeId, Path path, Path realPath, Capability cap, Path devicePath,
                                     boolean eraseAfter) {
        return new Attachment(Kind.STAGED, Phase.PENDING, volumeId, path, realPath, cap.access(), cap.fsType(),
                cap.mountFlags(), cap.accessMode(), false, "", false, volumeId, devicePath, eraseAfter);
    }

    /** A publication of a persistent volume, bound from its staging path, about to be made. */
    public static Attachment publication(String volumeId, Path target, Path realTarget, Capability cap,
                                         boolean readOnly, Path stagingPath, Path devicePath) {
        return new Attachment(Kind.PUBLISHED, Phase.PENDING, volumeId, target, realTarget, cap.access(),
                cap.fsType(), cap.mountFlags(), cap.accessMode(), readOnly, stagingPath.toString(), false,
                volumeId, devicePath, false);
    }

    /**
     * A CSI ephemeral inline volume published at {@code target}, about to be created: its device
     * is not known until {@link #withDevice}.
     *
     * @param deviceId the device manager's ID of the volume, not kubelet's {@code volumeId}
     */
    public static Attachment ephemeral(String volumeId, Path target, Path realTarget, Capability cap,
                                       boolean readOnly, String deviceId, boolean eraseAfter) {
        return new Attachment(Kind.PUBLISHED, Phase.PENDING, volumeId, target, realTarget, cap.access(),
                cap.fsType(), cap.mountFlags(), cap.accessMode(), readOnly, "", true, deviceId, Path.of(""),
                eraseAfter);
    }

    public Attachment {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(phase, "phase");
        Objects.requireNonNull(volumeId, "volumeId");
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(realPath, "realPath");
        Objects.requireNonNull(access, "access");
        fsType = fsType == null ? "" : fsType;
        mountFlags = List.copyOf(mountFlags == null ? List.of() : mountFlags);
        accessMode = accessMode == null ? "" : accessMode;
        stagingPath = stagingPath == null ? "" : stagingPath;
        deviceId = deviceId == null || deviceId.isEmpty() ? volumeId : deviceId;
        Objects.requireNonNull(devicePath, "devicePath");
    }

    public Attachment withPhase(Phase p) {
        return new Attachment(kind, p, volumeId, path, realPath, access, fsType, mountFlags, accessMode, readOnly,
                stagingPath, ephemeral, deviceId, devicePath, eraseAfter);
    }

    public Attachment withDevice(Path device) {
        return new Attachment(kind, phase, volumeId, path, realPath, access, fsType, mountFlags, accessMode, readOnly,
                stagingPath, ephemeral, deviceId, device, eraseAfter);
    }

    /**
     * Whether a repeated request describes the same thing: the same volume, access type,
     * filesystem, flags (in any order), access mode and read-only flag. Path and phase are not compared.
     */
    public boolean compatibleWith(Attachment o) {
        return volumeId.equals(o.volumeId) && access == o.access && fsType.equals(o.fsType)
                && new LinkedHashSet<>(mountFlags).equals(new LinkedHashSet<>(o.mountFlags))
                && accessMode.equals(o.accessMode) && readOnly == o.readOnly
                && stagingPath.equals(o.stagingPath) && ephemeral == o.ephemeral;
    }

    /** What differs from {@code o}, for error messages. */
    public String differences(Attachment o) {
        List<String> d = new ArrayList<>();
        if (!volumeId.equals(o.volumeId)) {
            d.add("volume " + volumeId + " vs " + o.volumeId);
        }
        if (access != o.access) {
            d.add("access type " + access + " vs " + o.access);
        }
        if (!fsType.equals(o.fsType)) {
            d.add("fs_type " + fsType + " vs " + o.fsType);
        }
        if (!new LinkedHashSet<>(mountFlags).equals(new LinkedHashSet<>(o.mountFlags))) {
            d.add("mount flags " + mountFlags + " vs " + o.mountFlags);
        }
        if (!accessMode.equals(o.accessMode)) {
            d.add("access mode " + accessMode + " vs " + o.accessMode);
        }
        if (readOnly != o.readOnly) {
            d.add("readonly " + readOnly + " vs " + o.readOnly);
        }
        if (!stagingPath.equals(o.stagingPath)) {
            d.add("staging path " + stagingPath + " vs " + o.stagingPath);
        }
        if (ephemeral != o.ephemeral) {
            d.add("ephemeral " + ephemeral + " vs " + o.ephemeral);
        }
        return String.join(", ", d);
    }
}
