package dev.pmemcsi.ndctl;

import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.UUID;

/**
 * What to create: a namespace of {@code sizeBytes} raw bytes in {@code mode}.
 *
 * @param mode       fsdax (pfn), devdax (dax), sector (btt) or raw
 * @param sizeBytes  raw namespace size; a multiple of the region alignment times interleave ways
 * @param altName    the namespace name, at most 63 bytes of UTF-8
 * @param uuid       the namespace UUID; the pfn/dax/btt device gets a UUID of its own
 * @param align      page-map alignment of fsdax/devdax (2 MiB is the kernel default); ignored otherwise
 * @param sectorSize logical sector size of sector mode (4096 is the usual); ignored otherwise
 */
public record NamespaceSpec(NamespaceMode mode, long sizeBytes, String altName, UUID uuid, long align, int sectorSize) {

    /** Namespace names are stored in a 64-byte label field with a terminating NUL. */
    public static final int MAX_NAME_BYTES = 63;
    public static final long DEFAULT_ALIGN = 2L * 1024 * 1024;
    public static final int DEFAULT_SECTOR_SIZE = 4096;

    public NamespaceSpec {
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(altName, "altName");
        Objects.requireNonNull(uuid, "uuid");
        if (mode == NamespaceMode.UNKNOWN) {
            throw new IllegalArgumentException("cannot create a namespace of unknown mode");
        }
        if (sizeBytes <= 0) {
            throw new IllegalArgumentException("size must be positive: " + sizeBytes);
        }
        int nameBytes = altName.getBytes(StandardCharsets.UTF_8).length;
        if (nameBytes > MAX_NAME_BYTES) {
            throw new IllegalArgumentException("namespace name has " + nameBytes + " bytes of UTF-8, at most "
                    + MAX_NAME_BYTES + " fit: " + altName);
        }
        if (altName.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("namespace name contains NUL");
        }
        if (align <= 0 || Long.bitCount(align) != 1) {
            throw new IllegalArgumentException("align must be a power of two: " + align);
        }
        if (sectorSize <= 0) {
            throw new IllegalArgumentException("sector size must be positive: " + sectorSize);
        }
    }

    public static NamespaceSpec of(NamespaceMode mode, long sizeBytes, String altName, UUID uuid) {
        return new NamespaceSpec(mode, sizeBytes, altName, uuid, DEFAULT_ALIGN, DEFAULT_SECTOR_SIZE);
    }

    /** The name as libndctl needs it: UTF-8 with a NUL, independent of the JVM's default charset. */
    byte[] altNameBytes() {
        byte[] utf8 = altName.getBytes(StandardCharsets.UTF_8);
        byte[] z = new byte[utf8.length + 1];
        System.arraycopy(utf8, 0, z, 0, utf8.length);
        return z;
    }
}
