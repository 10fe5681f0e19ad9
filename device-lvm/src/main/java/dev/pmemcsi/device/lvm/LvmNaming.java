package dev.pmemcsi.device.lvm;

import dev.pmemcsi.device.PoolDevice;
import dev.pmemcsi.device.VolumeAccess;
import dev.pmemcsi.device.VolumeIds;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Names and tags of the driver's volume groups and logical volumes. LVM itself is the record (a
 * create in progress is also noted in {@link PendingCreates}): a volume group is the driver's when it carries the owner tag (the driver name), and a logical
 * volume is a volume when it carries the owner tag and an ID tag; its other tags say what it was
 * created for and whether an operation on it is unfinished.
 *
 * <p>Tags of a volume, for the driver {@code pmem-csi.dev}:
 * <pre>
 * pmem-csi.dev                     owner
 * pmem-csi.dev/id=pvc123-0a1b…     the volume ID
 * pmem-csi.dev/state=creating      created but not handed out yet (removed at start; only
 *                                  volumes made before creates were noted in PendingCreates)
 * pmem-csi.dev/state=deleting      being deleted (the delete finishes at start)
 * pmem-csi.dev/erase-on-delete     with "deleting": zero it before it goes
 * pmem-csi.dev/erase-after         the volume's eraseafter parameter
 * pmem-csi.dev/capacity=6291456    the promised capacity, when a limit made it smaller than the volume
 * pmem-csi.dev/access=ext4         what it was created for ({@link VolumeAccess#token()})
 * pmem-csi.dev/attr=K.V            one attribute, key and value in unpadded base64url
 * </pre>
 * LVM allows tags of {@code [A-Za-z0-9_+.-/=!:&#]}; a CSI driver name is {@code [a-z0-9.-]} and starts
 * with a letter or digit, so it is a tag as it is.
 */
final class LvmNaming {

    static final String STATE_CREATING = "creating";
    static final String STATE_DELETING = "deleting";

    private static final Pattern DRIVER_NAME = Pattern.compile("[a-z0-9][a-z0-9.-]{0,62}");
    private static final Pattern VG_PART_CHARS = Pattern.compile("[^A-Za-z0-9_+-]");
    private static final int VG_PART_MAX = 24;
    private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();
    private static final Base64.Decoder B64D = Base64.getUrlDecoder();

    /** The state a volume's tags record. */
    enum State { READY, CREATING, DELETING }

    /**
     * What the tags of one of the driver's logical volumes say.
     *
     * @param capacityBytes the recorded capacity, 0 when the volume's whole size is its capacity
     */
    record VolumeTags(String volumeId, State state, boolean eraseOnDelete, boolean eraseAfter, long capacityBytes,
                      VolumeAccess access, Map<String, String> attributes) {
        VolumeTags {
            attributes = Map.copyOf(attributes);
        }
    }

    private final String owner;

    LvmNaming(String driverName) {
        if (driverName == null || !DRIVER_NAME.matcher(driverName).matches()) {
            throw new IllegalArgumentException("driver name \"" + driverName + "\" is not a CSI driver name");
        }
        this.owner = driverName;
    }

    /** The tag on every volume group and logical volume of this driver. */
    String ownerTag() {
        return owner;
    }

    /**
     * The volume group of a pool device: {@code pmemcsi.<bus>.<region>}, e.g.
     * {@code pmemcsi.ndbus0.region0}. Stable as long as the region keeps its name, within LVM's
     * charset, and short enough that with any logical volume name the device-mapper name stays
     * below its 127 characters. A driver finds its volume groups by tag, not by this name.
     */
    static String volumeGroupName(PoolDevice d) {
        return "pmemcsi." + vgPart(d.bus()) + "." + vgPart(d.region());
    }

    private static String vgPart(String s) {
        String clean = VG_PART_CHARS.matcher(s).replaceAll("_");
        if (clean.length() <= VG_PART_MAX) {
            return clean;
        }
        // A long name keeps its start for readers and a hash of the whole for uniqueness.
        return clean.substring(0, VG_PART_MAX - 9) + "_" + sha224(s).substring(0, 8);
    }

    /**
     * The logical volume of a volume ID: {@code pmem.} and the ID with {@code .} for {@code -}. The
     * prefix keeps clear of names lvm reserves ({@code pvmove…}, {@code snapshot…}); dots, unlike
     * dashes, are not doubled in the device-mapper name; and IDs have no dots, so the name is unique.
     */
    static String logicalVolumeName(String volumeId) {
        if (!VolumeIds.isValid(volumeId)) {
            throw new IllegalArgumentException("invalid volume ID: " + volumeId);
        }
        return "pmem." + volumeId.replace('-', '.');
    }

    /** The node libdevmapper makes for a logical volume: dashes in either name are doubled. */
    static String deviceMapperPath(String vg, String lv) {
        return "/dev/mapper/" + vg.replace("-", "--") + "-" + lv.replace("-", "--");
    }

    boolean ownsGroup(List<String> vgTags) {
        return vgTags.contains(owner);
    }

    /**
     * The tags a new volume is created with, ready: a create in progress is recorded outside lvm
     * ({@link PendingCreates}), so the volume needs no second metadata change to become ready.
     */
    List<String> tagsOf(String volumeId, boolean eraseAfter, long capacityBytes, VolumeAccess access,
                        Map<String, String> attributes) {
        List<String> tags = new ArrayList<>();
        tags.add(owner);
        tags.add(idTag(volumeId));
        if (eraseAfter) {
            tags.add(eraseAfterTag());
        }
        if (capacityBytes > 0) {
            tags.add(capacityTag(capacityBytes));
        }
        if (access.isRecorded()) {
            tags.add(owner + "/access=" + access.token());
        }
        for (Map.Entry<String, String> a : new TreeMap<>(attributes).entrySet()) {
            tags.add(owner + "/attr=" + encode(a.getKey()) + "." + encode(a.getValue()));
        }
        return tags;
    }

    String idTag(String volumeId) {
        return owner + "/id=" + volumeId;
    }

    String stateTag(String state) {
        return owner + "/state=" + state;
    }

    String eraseOnDeleteTag() {
        return owner + "/erase-on-delete";
    }

    String eraseAfterTag() {
        return owner + "/erase-after";
    }

    String capacityTag(long bytes) {
        return owner + "/capacity=" + bytes;
    }

    /** The capacity tags among {@code tags}: one, normally, but a crash may not leave it so. */
    List<String> capacityTags(List<String> tags) {
        return tags.stream().filter(t -> t.startsWith(owner + "/capacity=")).toList();
    }

    /**
     * What the tags of a logical volume say, or empty when it is not one of this driver's volumes:
     * no owner tag, no valid ID, or tags this version cannot read. Such a volume is never changed.
     */
    Optional<VolumeTags> read(List<String> tags) {
        if (!tags.contains(owner)) {
            return Optional.empty();
        }
        String prefix = owner + "/";
        String id = null;
        State state = State.READY;
        boolean eraseOnDelete = false;
        boolean eraseAfter = false;
        long capacity = 0;
        VolumeAccess access = VolumeAccess.UNRECORDED;
        Map<String, String> attributes = new LinkedHashMap<>();
        try {
            for (String t : tags) {
                if (!t.startsWith(prefix)) {
                    continue;
                }
                String rest = t.substring(prefix.length());
                if (rest.startsWith("id=")) {
                    if (id != null) {
                        return Optional.empty();
                    }
                    id = rest.substring(3);
                } else if (rest.equals("state=" + STATE_CREATING)) {
                    state = state == State.DELETING ? state : State.CREATING;
                } else if (rest.equals("state=" + STATE_DELETING)) {
                    state = State.DELETING;
                } else if (rest.equals("erase-on-delete")) {
                    eraseOnDelete = true;
                } else if (rest.equals("erase-after")) {
                    eraseAfter = true;
                } else if (rest.startsWith("capacity=")) {
                    long c = Long.parseLong(rest.substring(9));
                    capacity = capacity == 0 ? c : Math.min(capacity, c);
                } else if (rest.startsWith("access=")) {
                    access = VolumeAccess.ofToken(rest.substring(7));
                } else if (rest.startsWith("attr=")) {
                    String[] kv = rest.substring(5).split("\\.", -1);
                    if (kv.length != 2) {
                        return Optional.empty();
                    }
                    attributes.put(decode(kv[0]), decode(kv[1]));
                }
            }
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
        if (id == null || !VolumeIds.isValid(id)) {
            return Optional.empty();
        }
        return Optional.of(new VolumeTags(id, state, eraseOnDelete, eraseAfter, capacity, access, attributes));
    }

    private static String encode(String s) {
        return B64.encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    private static String decode(String s) {
        return new String(B64D.decode(s), StandardCharsets.UTF_8);
    }

    private static String sha224(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-224").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-224 is required by every Java runtime", e);
        }
    }
}
