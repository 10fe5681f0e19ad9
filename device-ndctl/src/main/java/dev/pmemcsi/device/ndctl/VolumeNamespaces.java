package dev.pmemcsi.device.ndctl;

import dev.pmemcsi.device.VolumeAccess;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.ndctl.NamespaceInfo;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Optional;
import java.util.UUID;

/**
 * How a namespace is recognised as a volume of this driver, and where its record lives.
 *
 * <p>The namespace name is the volume ID, but a name alone proves nothing: deleted seeds keep their
 * old name and anybody can pick any name. The labels have room for nothing but the name and the
 * UUID, so the UUID carries both the proof of ownership and the volume's record. A namespace
 * belongs to volume {@code id} only when it is allocated, named {@code id} and carries a UUID
 * that {@link #owner} decodes for {@code id}.
 *
 * <p>Two UUID forms are recognised:
 * <ul>
 *   <li>The current one (RFC 9562 version 8, custom): 60 bits of a SHA-256 of the driver name and
 *       the volume ID, then the erase-after flag, the use (block access, and ext4, xfs or no
 *       filesystem) and the capacity in bytes (58 bits, up to 256 PiB; 0 for the whole device).
 *       The capacity is known before the namespace is made, since the UUID must be set before
 *       its size.</li>
 *   <li>The earlier name-based one (version 3) of the driver name, the volume ID and the
 *       erase-after flag. Such volumes have no recorded use, and their capacity is the whole
 *       device.</li>
 * </ul>
 */
final class VolumeNamespaces {

    /**
     * An allocated namespace that belongs to one of the driver's volumes.
     *
     * @param capacityBytes the recorded capacity, 0 for the whole device
     * @param access        the recorded use
     */
    record Owned(String volumeId, boolean eraseAfter, long capacityBytes, VolumeAccess access, int generation) {
        /** A volume with the earlier UUID form: no capacity and no use recorded. */
        Owned(String volumeId, boolean eraseAfter) {
            this(volumeId, eraseAfter, 0, VolumeAccess.UNRECORDED);
        }

        /** A volume of generation 0: one that never moved. */
        Owned(String volumeId, boolean eraseAfter, long capacityBytes, VolumeAccess access) {
            this(volumeId, eraseAfter, capacityBytes, access, 0);
        }
    }

    /** Generations count modulo this; two namespaces of one volume exist only during a move. */
    static final int GENERATIONS = 4;
    private static final long GENERATION_MASK = GENERATIONS - 1;

    /** The largest capacity the UUID holds. */
    static final long MAX_CAPACITY = (1L << 58) - 1;

    private static final long VERSION_8 = 0x8000L;
    private static final long VERSION_MASK = 0xF000L;
    private static final long VARIANT = 0b10L << 62;
    private static final long VARIANT_MASK = 0b11L << 62;
    private static final long ERASE_BIT = 1L << 61;
    private static final long BLOCK_BIT = 1L << 60;
    private static final int FS_SHIFT = 58;

    private final String driverName;

    VolumeNamespaces(String driverName) {
        if (driverName == null || driverName.isEmpty()) {
            throw new IllegalArgumentException("driver name must not be empty");
        }
        this.driverName = driverName;
    }

    /** The earlier, name-based UUID; still recognised, no longer made. */
    UUID uuidFor(String volumeId, boolean eraseAfter) {
        String key = driverName + "/volume/" + volumeId + (eraseAfter ? "/erase-after" : "/keep-after");
        return UUID.nameUUIDFromBytes(key.getBytes(StandardCharsets.UTF_8));
    }

    /** The UUID of a new volume's namespace, carrying its record. */
    UUID uuidFor(String volumeId, boolean eraseAfter, long capacityBytes, VolumeAccess access) {
        return uuidFor(volumeId, eraseAfter, capacityBytes, access, 0);
    }

    /** The UUID of a volume's namespace of {@code generation} (0 to {@value #GENERATIONS} - 1). */
    UUID uuidFor(String volumeId, boolean eraseAfter, long capacityBytes, VolumeAccess access, int generation) {
        if (generation < 0 || generation >= GENERATIONS) {
            throw new IllegalArgumentException("generation " + generation + " is outside 0.." + (GENERATIONS - 1));
        }
        if (capacityBytes < 0 || capacityBytes > MAX_CAPACITY) {
            throw new IllegalArgumentException("capacity " + capacityBytes + " cannot be recorded in a namespace UUID");
        }
        long hash = ownerHash(volumeId);
        long msb = (hash >>> 12) << 16 | VERSION_8 | ((hash ^ generation) & 0xFFF);
        long lsb = VARIANT | (eraseAfter ? ERASE_BIT : 0) | (access.block() ? BLOCK_BIT : 0)
                | (long) fsCode(access.filesystem()) << FS_SHIFT | capacityBytes;
        return new UUID(msb, lsb);
    }

    Optional<Owned> owner(NamespaceInfo ns) {
        String id = ns.altName();
        if (!ns.allocated() || !VolumeIds.isValid(id)) {
            return Optional.empty();
        }
        UUID u = ns.uuid();
        if (u.equals(uuidFor(id, true))) {
            return Optional.of(new Owned(id, true));
        }
        if (u.equals(uuidFor(id, false))) {
            return Optional.of(new Owned(id, false));
        }
        long msb = u.getMostSignificantBits();
        long lsb = u.getLeastSignificantBits();
        if ((msb & VERSION_MASK) != VERSION_8 || (lsb & VARIANT_MASK) != VARIANT) {
            return Optional.empty();
        }
        long hash = ownerHash(id);
        if (msb >>> 16 != hash >>> 12 || (msb & 0xFFF & ~GENERATION_MASK) != (hash & 0xFFF & ~GENERATION_MASK)) {
            return Optional.empty();
        }
        int generation = (int) ((msb ^ hash) & GENERATION_MASK);
        int fs = (int) (lsb >>> FS_SHIFT) & 0b11;
        long capacity = lsb & MAX_CAPACITY;
        if (fs == 3) {
            return Optional.empty();
        }
        VolumeAccess access = new VolumeAccess(fs == 1 ? VolumeAccess.EXT4 : fs == 2 ? VolumeAccess.XFS : "",
                (lsb & BLOCK_BIT) != 0);
        return Optional.of(new Owned(id, (lsb & ERASE_BIT) != 0, capacity, access, generation));
    }

    /** Whether {@code later} is the generation that follows {@code earlier}. */
    static boolean isNext(int earlier, int later) {
        return later == (earlier + 1) % GENERATIONS;
    }

    boolean isVolume(NamespaceInfo ns, String volumeId) {
        return owner(ns).map(o -> o.volumeId().equals(volumeId)).orElse(false);
    }

    /** 60 bits that tie a UUID to this driver and volume ID. */
    private long ownerHash(String volumeId) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256")
                    .digest((driverName + "/volume/" + volumeId).getBytes(StandardCharsets.UTF_8));
            return ByteBuffer.wrap(d).getLong() >>> 4;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    private static int fsCode(String fs) {
        return switch (fs) {
            case "" -> 0;
            case VolumeAccess.EXT4 -> 1;
            case VolumeAccess.XFS -> 2;
            default -> throw new IllegalArgumentException("unsupported filesystem: " + fs);
        };
    }
}
