package dev.pmemcsi.device;

/**
 * The size arithmetic every backend shares, so that the emulated backend and real PMEM agree on
 * every figure.
 *
 * <p>Volumes are promised in <em>usable</em> bytes: what the block device offers. The raw
 * allocation is larger by the mode's on-media metadata and is a multiple of the region's
 * allocation unit.
 */
public final class CapacityMath {

    public static final long KIB = 1024;
    public static final long MIB = 1024 * KIB;
    public static final long GIB = 1024 * MIB;

    /** Usable size of a volume whose request names no size. */
    public static final long DEFAULT_VOLUME_BYTES = GIB;

    /** Alignment of the pfn (page map) device of an fsdax namespace: 2 MiB huge pages. */
    public static final long FSDAX_PFN_ALIGN = 2 * MIB;

    /** The fsdax info block that precedes the page map. */
    private static final long PFN_INFO_BYTES = 8 * KIB;
    /** One struct page (64 bytes) per 4 KiB page of the namespace. */
    private static final long PAGE_MAP_BYTES_PER_PAGE = 64;
    private static final long PAGE = 4 * KIB;

    /** BTT: a single arena covers at most 512 GiB. */
    private static final long BTT_ARENA_BYTES = 512 * GIB;
    /** BTT per arena: 256 free blocks of 4 KiB, info blocks and the flog, with room to spare. */
    private static final long BTT_ARENA_OVERHEAD = MIB + 128 * KIB;

    private CapacityMath() {}

    /**
     * Metadata bytes that the kernel keeps on the media of an fsdax namespace of {@code rawBytes}
     * (page map in PMEM, 2 MiB alignment): 8 KiB of info block plus 64 B per 4 KiB page, rounded
     * up to the 2 MiB pfn alignment. This reproduces every size observed on real namespaces.
     */
    public static long fsdaxOverhead(long rawBytes) {
        long pages = Math.max(0, (rawBytes - PFN_INFO_BYTES) / PAGE);
        return roundUp(PFN_INFO_BYTES + PAGE_MAP_BYTES_PER_PAGE * pages, FSDAX_PFN_ALIGN);
    }

    /**
     * An upper bound of the metadata of a sector (BTT, 4 KiB sectors) namespace: per arena the
     * reserved free blocks, info blocks and flog, plus a 4-byte map entry per 4 KiB block.
     * A real BTT device is never smaller than {@code rawBytes} minus this.
     */
    public static long sectorOverhead(long rawBytes) {
        long arenas = Math.max(1, ceilDiv(rawBytes, BTT_ARENA_BYTES));
        return arenas * BTT_ARENA_OVERHEAD + roundUp(rawBytes / PAGE * 4, PAGE) + PAGE;
    }

    /** Usable bytes of a volume of {@code mode} that occupies {@code rawBytes} of media. */
    public static long usableBytes(VolumeMode mode, long rawBytes) {
        long overhead = switch (mode) {
            case FSDAX -> fsdaxOverhead(rawBytes);
            case SECTOR -> sectorOverhead(rawBytes);
        };
        return Math.max(0, rawBytes - overhead);
    }

    /**
     * The smallest raw size, a multiple of {@code alignment}, whose usable size is at least
     * {@code usableBytes}. Returns {@link Long#MAX_VALUE} when no such size exists in a long.
     */
    public static long rawBytesFor(VolumeMode mode, long usableBytes, long alignment) {
        requirePositive(alignment, "alignment");
        if (usableBytes <= 0) {
            usableBytes = 1;
        }
        if (usableBytes > Long.MAX_VALUE / 2) {
            return Long.MAX_VALUE;
        }
        // The overhead is below 1/32 of the size plus a few MiB for every mode: start just below
        // the answer and step up one allocation unit at a time.
        long raw = roundUp(usableBytes, alignment);
        if (raw == Long.MAX_VALUE) {
            return Long.MAX_VALUE;
        }
        while (usableBytes(mode, raw) < usableBytes) {
            long deficit = usableBytes - usableBytes(mode, raw);
            long step = Math.max(alignment, roundUp(deficit, alignment));
            if (raw > Long.MAX_VALUE - step) {
                return Long.MAX_VALUE;
            }
            raw += step;
        }
        // The jumps may overshoot by a unit; walk back while the smaller size still suffices.
        while (raw - alignment > 0 && usableBytes(mode, raw - alignment) >= usableBytes) {
            raw -= alignment;
        }
        return raw;
    }

    /**
     * The capacity of a volume whose device offers {@code usableBytes}, requested with
     * {@code limitBytes} (0: no limit). A device is made of whole allocation units and usually
     * offers more than was asked for; the capacity is the whole device unless that exceeds the
     * limit, and then it is the limit. So a range with {@code required == limit} is always met
     * exactly, and the filesystem the node makes has this size.
     */
    public static long capacityBytes(long usableBytes, long limitBytes) {
        return limitBytes == 0 ? usableBytes : Math.min(usableBytes, limitBytes);
    }

    /**
     * The smallest capacity a volume of {@code mode} has: the usable bytes of one allocation unit
     * of {@code alignment}. A limit below it is refused, so that no volume is smaller than the
     * smallest device, and GetCapacity's minimum volume size stays the smallest limit that succeeds.
     */
    public static long minimumCapacity(VolumeMode mode, long alignment) {
        return usableBytes(mode, alignment);
    }

    /**
     * Refuses a limit below {@link #minimumCapacity} for every one of {@code alignments}.
     *
     * @throws OutOfRangeException with a message naming the smallest volume
     */
    public static void checkLimit(VolumeMode mode, long limitBytes, long... alignments) throws OutOfRangeException {
        if (limitBytes == 0 || alignments.length == 0) {
            return;
        }
        long smallest = Long.MAX_VALUE;
        for (long a : alignments) {
            smallest = Math.min(smallest, minimumCapacity(mode, a));
        }
        if (limitBytes < smallest) {
            throw new OutOfRangeException("limit_bytes " + limitBytes + " is below the smallest " + mode
                    + " volume, which offers " + smallest + " usable bytes (one allocation unit)");
        }
    }

    /** {@code value} rounded up to a multiple of {@code alignment}, or {@link Long#MAX_VALUE} on overflow. */
    public static long roundUp(long value, long alignment) {
        requirePositive(alignment, "alignment");
        if (value <= 0) {
            return 0;
        }
        long rem = value % alignment;
        if (rem == 0) {
            return value;
        }
        long add = alignment - rem;
        return value > Long.MAX_VALUE - add ? Long.MAX_VALUE : value + add;
    }

    /** {@code value} rounded down to a multiple of {@code alignment}. */
    public static long alignDown(long value, long alignment) {
        requirePositive(alignment, "alignment");
        return value <= 0 ? 0 : value - value % alignment;
    }

    /** Least common multiple, for combining the alignments of a region and its interleave set. */
    public static long lcm(long a, long b) {
        requirePositive(a, "a");
        requirePositive(b, "b");
        return Math.multiplyExact(a / gcd(a, b), b);
    }

    private static long gcd(long a, long b) {
        while (b != 0) {
            long t = a % b;
            a = b;
            b = t;
        }
        return a;
    }

    private static long ceilDiv(long a, long b) {
        return a <= 0 ? 0 : (a - 1) / b + 1;
    }

    private static void requirePositive(long v, String what) {
        if (v <= 0) {
            throw new IllegalArgumentException(what + " must be positive: " + v);
        }
    }
}
