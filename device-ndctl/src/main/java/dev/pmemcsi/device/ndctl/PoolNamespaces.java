package dev.pmemcsi.device.ndctl;

import dev.pmemcsi.ndctl.NamespaceInfo;
import dev.pmemcsi.ndctl.NamespaceSpec;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.UUID;

/**
 * How LVM mode recognises its own pool namespace in a region.
 *
 * <p>A UUID made here is an RFC 9562 version 8 UUID whose 60 most significant free bits are a
 * SHA-256 of {@code <driver name>/lvm-pool} (the mark) and whose other 62 bits are random, so that
 * no two namespaces share a UUID (the kernel requires them unique on a bus) while every one of
 * them shows whose pool it is.
 * <ul>
 *   <li>On a labelled region the pool namespace is named {@link #name()} and its namespace UUID
 *       carries the mark. A name alone proves nothing: deleted seeds keep their old names, and
 *       anybody can pick any name.</li>
 *   <li>A label-less namespace has neither name nor UUID. Its pool device is recognised by the
 *       UUID of the pfn device that claims it, which the kernel keeps in the namespace's info block
 *       and so across reboots; that UUID carries the mark. The pfn device of a labelled pool
 *       namespace carries it too.</li>
 * </ul>
 * A namespace of another driver name carries another mark and is never taken for this driver's.
 */
final class PoolNamespaces {

    /** Appended to the driver name to name the pool namespace of a labelled region. */
    static final String SUFFIX = "-lvm";

    private static final long VERSION_8 = 0x8000L;
    private static final long VERSION_MASK = 0xF000L;
    private static final long VARIANT = 0b10L << 62;
    private static final long VARIANT_MASK = 0b11L << 62;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final String name;
    private final long mark;

    PoolNamespaces(String driverName) {
        if (driverName == null || driverName.isEmpty()) {
            throw new IllegalArgumentException("driver name must not be empty");
        }
        this.name = truncateUtf8(driverName, NamespaceSpec.MAX_NAME_BYTES - SUFFIX.length()) + SUFFIX;
        this.mark = sha256Bits(driverName + "/lvm-pool");
    }

    /** {@code <driver name>-lvm}; a driver name too long for the 63-byte label field is cut short. */
    String name() {
        return name;
    }

    /** A new UUID with this driver's mark. */
    UUID newUuid() {
        long msb = (mark >>> 12) << 16 | VERSION_8 | (mark & 0xFFF);
        long lsb = VARIANT | (RANDOM.nextLong() & ~VARIANT_MASK);
        return new UUID(msb, lsb);
    }

    boolean isMarked(UUID u) {
        long msb = u.getMostSignificantBits();
        return (msb & VERSION_MASK) == VERSION_8 && (u.getLeastSignificantBits() & VARIANT_MASK) == VARIANT
                && msb >>> 16 == mark >>> 12 && (msb & 0xFFF) == (mark & 0xFFF);
    }

    /** The pool namespace of a labelled region: allocated, named {@link #name()}, and its UUID marked. */
    boolean isLabelledPool(NamespaceInfo ns) {
        return ns.allocated() && ns.altName().equals(name) && isMarked(ns.uuid());
    }

    /** The pool device of a label-less region: an fsdax namespace whose pfn device's UUID is marked. */
    boolean isLabellessPool(NamespaceInfo ns) {
        return ns.allocated() && ns.claimedByPfn() && isMarked(ns.deviceUuid());
    }

    /** 60 bits of the SHA-256 of {@code s}. */
    private static long sha256Bits(String s) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
            return ByteBuffer.wrap(d).getLong() >>> 4;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    /** The longest prefix of {@code s} that fits {@code maxBytes} of UTF-8, never splitting a character. */
    private static String truncateUtf8(String s, int maxBytes) {
        StringBuilder sb = new StringBuilder();
        int bytes = 0;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            int n = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8).length;
            if (bytes + n > maxBytes) {
                break;
            }
            sb.appendCodePoint(cp);
            bytes += n;
            i += Character.charCount(cp);
        }
        return sb.toString();
    }
}
