package dev.pmemcsi.device.ndctl;

import com.sun.nio.file.ExtendedOpenOption;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.VolumeInUseException;
import dev.pmemcsi.pmemnative.BlockDevice;
import dev.pmemcsi.pmemnative.NativeException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import jnr.constants.platform.Errno;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Copies between block devices with large O_DIRECT reads and writes, which neither fill the page
 * cache nor go through it twice (measured in the guest: 4.4 s for 502 MiB against 7.6 to 9.7 s
 * buffered). Both devices are held open with O_EXCL during the copy, so a mount of either is
 * refused meanwhile, and a device that is already mounted fails the copy before a byte moves.
 *
 * <p>Every byte is written, zeros included: the target is a new namespace on space that earlier
 * volumes may have used, so it does not read as zeros.
 */
final class DirectVolumeCopier implements VolumeCopier {

    private static final Logger log = LoggerFactory.getLogger(DirectVolumeCopier.class);
    private static final int CHUNK = 8 * 1024 * 1024;

    @Override
    public void copy(String volumeId, Path from, Path to, long bytes) throws DeviceException {
        long start = System.nanoTime();
        try (BlockDevice src = BlockDevice.open(from, true); BlockDevice dst = BlockDevice.open(to, true)) {
            if (src.sizeBytes() < bytes || dst.sizeBytes() < bytes) {
                throw new DeviceException("cannot copy " + bytes + " bytes of volume " + volumeId + " from " + from
                        + " (" + src.sizeBytes() + " bytes) to " + to + " (" + dst.sizeBytes() + " bytes)");
            }
            long direct = bytes - bytes % BlockDevice.DIRECT_ALIGN;
            copyRange(from, to, 0, direct, true);
            // O_DIRECT moves whole 4 KiB blocks only; a device size that is not one (never seen on
            // fsdax or BTT namespaces) gets its tail copied through the page cache.
            copyRange(from, to, direct, bytes - direct, false);
            dst.fsync();
        } catch (NativeException e) {
            if (e.is(Errno.EBUSY)) {
                throw new VolumeInUseException("volume " + volumeId + " cannot move: " + e.getMessage(), e);
            }
            throw new DeviceException("copying volume " + volumeId + " from " + from + " to " + to + " failed: "
                    + e.getMessage(), e);
        } catch (IOException e) {
            throw new DeviceException("copying volume " + volumeId + " from " + from + " to " + to + " failed: "
                    + e.getMessage(), e);
        }
        long ms = (System.nanoTime() - start) / 1_000_000;
        log.info("copied {} MiB of volume {} from {} to {} in {} ms ({} MiB/s)", bytes >> 20, volumeId, from, to, ms,
                ms == 0 ? "-" : (bytes >> 20) * 1000 / ms);
    }

    private static void copyRange(Path from, Path to, long offset, long length, boolean direct) throws IOException {
        if (length == 0) {
            return;
        }
        Set<java.nio.file.OpenOption> read = direct ? Set.of(StandardOpenOption.READ, ExtendedOpenOption.DIRECT)
                : Set.of(StandardOpenOption.READ);
        Set<java.nio.file.OpenOption> write = direct ? Set.of(StandardOpenOption.WRITE, ExtendedOpenOption.DIRECT)
                : Set.of(StandardOpenOption.WRITE);
        try (FileChannel in = FileChannel.open(from, read); FileChannel out = FileChannel.open(to, write)) {
            ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK + BlockDevice.DIRECT_ALIGN)
                    .alignedSlice(BlockDevice.DIRECT_ALIGN);
            for (long done = 0; done < length; ) {
                int n = (int) Math.min(CHUNK, length - done);
                buf.clear().limit(n);
                while (buf.hasRemaining()) {
                    if (in.read(buf, offset + done + buf.position()) < 0) {
                        throw new IOException(from + " ends before byte " + (offset + length));
                    }
                }
                buf.flip();
                while (buf.hasRemaining()) {
                    out.write(buf, offset + done + buf.position());
                }
                done += n;
            }
            out.force(true);
        }
    }
}
