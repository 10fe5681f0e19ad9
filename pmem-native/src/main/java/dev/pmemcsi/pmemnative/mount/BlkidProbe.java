package dev.pmemcsi.pmemnative.mount;

import dev.pmemcsi.pmemnative.LibBlkid;
import dev.pmemcsi.pmemnative.Native;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import jnr.ffi.Pointer;
import jnr.ffi.byref.NativeLongByReference;
import jnr.ffi.byref.PointerByReference;

/**
 * {@code blkid -p} in this process: the same low-level probe through libblkid, the library the
 * command is a front end of, with the same settings (superblocks with label, UUID, type, secondary
 * type, usage and version; partition tables with entry details; a "safe" probe that reports more
 * than one signature as ambivalent instead of picking one). It saves a process per probe, which
 * every stage of a volume that holds a filesystem needs.
 *
 * <p>Where libblkid cannot be loaded or cannot open the device, {@link #probe} answers empty and
 * the caller runs {@code blkid -p}, whose exit code and message then say what is wrong.
 */
final class BlkidProbe {

    /** What the probe found. */
    enum Outcome { FOUND, NOTHING, AMBIVALENT }

    /** @param fields every NAME=value the probe reported (TYPE, UUID, PTTYPE, ...) */
    record Result(Outcome outcome, Map<String, String> fields) {
        Result {
            fields = Map.copyOf(fields);
        }
    }

    private static final int SUPERBLOCK_FLAGS = LibBlkid.BLKID_SUBLKS_LABEL | LibBlkid.BLKID_SUBLKS_UUID
            | LibBlkid.BLKID_SUBLKS_TYPE | LibBlkid.BLKID_SUBLKS_SECTYPE | LibBlkid.BLKID_SUBLKS_USAGE
            | LibBlkid.BLKID_SUBLKS_VERSION;

    private BlkidProbe() {}

    static boolean available() {
        return Native.libblkid().isPresent();
    }

    /** The probe of {@code device}, or empty when it could not be made here. */
    static Optional<Result> probe(Path device) {
        LibBlkid lib = Native.libblkid().orElse(null);
        if (lib == null) {
            return Optional.empty();
        }
        Pointer pr = lib.blkid_new_probe_from_filename(device.toString());
        if (pr == null || pr.address() == 0) {
            return Optional.empty();
        }
        try {
            lib.blkid_probe_enable_superblocks(pr, 1);
            lib.blkid_probe_set_superblocks_flags(pr, SUPERBLOCK_FLAGS);
            lib.blkid_probe_enable_partitions(pr, 1);
            lib.blkid_probe_set_partitions_flags(pr, LibBlkid.BLKID_PARTS_ENTRY_DETAILS);
            int rc = lib.blkid_do_safeprobe(pr);
            return switch (rc) {
                case 0 -> Optional.of(new Result(Outcome.FOUND, values(lib, pr)));
                case 1 -> Optional.of(new Result(Outcome.NOTHING, Map.of()));
                case -2 -> Optional.of(new Result(Outcome.AMBIVALENT, Map.of()));
                default -> Optional.empty();
            };
        } finally {
            lib.blkid_free_probe(pr);
        }
    }

    private static Map<String, String> values(LibBlkid lib, Pointer pr) {
        Map<String, String> out = new LinkedHashMap<>();
        int n = lib.blkid_probe_numof_values(pr);
        for (int i = 0; i < n; i++) {
            PointerByReference name = new PointerByReference();
            PointerByReference data = new PointerByReference();
            NativeLongByReference len = new NativeLongByReference();
            if (lib.blkid_probe_get_value(pr, i, name, data, len) == 0 && name.getValue() != null
                    && data.getValue() != null) {
                out.put(name.getValue().getString(0), data.getValue().getString(0));
            }
        }
        return out;
    }
}
