package dev.pmemcsi.device;

import dev.pmemcsi.pmemnative.BlockDevice;
import dev.pmemcsi.pmemnative.NativeException;
import java.nio.file.Path;
import jnr.constants.platform.Errno;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Zeroes a whole block device through an exclusive open, so that a mounted or open device is
 * refused (EBUSY) instead of being overwritten under its users.
 */
public final class BlockDeviceEraser implements VolumeEraser {

    private static final Logger log = LoggerFactory.getLogger(BlockDeviceEraser.class);

    /** How the zeros get to the media. */
    public enum Method {
        /** The kernel zeroes the range (BLKZEROOUT); the pmem driver writes zero pages itself. */
        ZEROOUT,
        /** Large O_DIRECT writes of a zero buffer. */
        DIRECT_WRITE
    }

    private static final long STEP = 256L * 1024 * 1024;
    private static final int WRITE_CHUNK = 8 * 1024 * 1024;
    private static final long LOG_EVERY = 4L * 1024 * 1024 * 1024;

    private final Method method;

    public BlockDeviceEraser(Method method) {
        this.method = method;
    }

    public Method method() {
        return method;
    }

    /** Where signatures live: ext4 and xfs superblocks at the start, GPT backups at the end. */
    static final long SIGNATURE_AREA = 1024 * 1024;

    @Override
    public void wipeSignatures(String volumeId, Path device) throws DeviceException {
        try (BlockDevice dev = BlockDevice.open(device, true)) {
            long size = dev.sizeBytes();
            long head = Math.min(SIGNATURE_AREA, size);
            dev.zeroOut(0, head);
            if (size > head) {
                long tail = Math.min(SIGNATURE_AREA, size - head);
                dev.zeroOut(size - tail, tail);
            }
            dev.fsync();
        } catch (NativeException e) {
            throw new DeviceException("clearing old signatures on " + device + " of new volume " + volumeId
                    + " failed: " + e.getMessage(), e);
        }
    }

    @Override
    public void erase(String volumeId, Path device) throws DeviceException {
        long start = System.nanoTime();
        try (BlockDevice dev = BlockDevice.open(device, true, method == Method.DIRECT_WRITE)) {
            long size = dev.sizeBytes();
            long nextLog = LOG_EVERY;
            for (long off = 0; off < size; off += STEP) {
                long len = Math.min(STEP, size - off);
                // O_DIRECT needs 4 KiB units; a device whose size is not one gets its tail zeroed by the kernel.
                long direct = method == Method.DIRECT_WRITE ? len - len % BlockDevice.DIRECT_ALIGN : 0;
                if (direct > 0) {
                    dev.writeZeros(off, direct, WRITE_CHUNK, n -> { });
                }
                if (len > direct) {
                    dev.zeroOut(off + direct, len - direct);
                }
                if (off + len >= nextLog && off + len < size) {
                    log.info("erasing volume {} on {}: {} of {} MiB zeroed", volumeId, device, (off + len) >> 20, size >> 20);
                    nextLog += LOG_EVERY;
                }
            }
            dev.fsync();
            log.info("erased volume {} on {} ({} MiB, {}) in {} ms", volumeId, device, size >> 20, method,
                    (System.nanoTime() - start) / 1_000_000);
        } catch (NativeException e) {
            if (e.is(Errno.EBUSY)) {
                throw new VolumeInUseException("volume " + volumeId + " cannot be erased: " + e.getMessage(), e);
            }
            throw new DeviceException("erasing volume " + volumeId + " failed: " + e.getMessage(), e);
        }
    }
}
