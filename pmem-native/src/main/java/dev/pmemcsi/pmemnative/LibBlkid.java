package dev.pmemcsi.pmemnative;

import jnr.ffi.Pointer;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.byref.NativeLongByReference;
import jnr.ffi.byref.PointerByReference;

/**
 * The libblkid calls of a low-level probe, the library behind {@code blkid -p}: one probe object
 * per device, freed by {@link #blkid_free_probe}. A probe object is used by one thread only.
 */
public interface LibBlkid {

    /** {@code blkid.h}: what a superblock probe reports. */
    int BLKID_SUBLKS_LABEL = 1 << 1;
    int BLKID_SUBLKS_UUID = 1 << 3;
    int BLKID_SUBLKS_TYPE = 1 << 5;
    int BLKID_SUBLKS_SECTYPE = 1 << 6;
    int BLKID_SUBLKS_USAGE = 1 << 7;
    int BLKID_SUBLKS_VERSION = 1 << 8;
    /** {@code blkid.h}: what a partition-table probe reports. */
    int BLKID_PARTS_ENTRY_DETAILS = 1 << 2;

    /** NULL on failure, with errno set. */
    @SaveError
    Pointer blkid_new_probe_from_filename(@In String filename);

    void blkid_free_probe(Pointer pr);

    int blkid_probe_enable_superblocks(Pointer pr, int enable);

    int blkid_probe_set_superblocks_flags(Pointer pr, int flags);

    int blkid_probe_enable_partitions(Pointer pr, int enable);

    int blkid_probe_set_partitions_flags(Pointer pr, int flags);

    /** 0: found one signature; 1: nothing; -2: more than one (ambivalent); -1: error. */
    @SaveError
    int blkid_do_safeprobe(Pointer pr);

    int blkid_probe_numof_values(Pointer pr);

    /** The name and value of result {@code num}; both NUL-terminated, owned by the probe. */
    int blkid_probe_get_value(Pointer pr, int num, @Out PointerByReference name, @Out PointerByReference data,
                              @Out NativeLongByReference len);
}
