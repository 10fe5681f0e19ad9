package dev.pmemcsi.controller.snapshot;

import com.sun.nio.file.ExtendedOpenOption;
import dev.pmemcsi.pmemnative.BlockDevice;
import dev.pmemcsi.pmemnative.NativeException;
import dev.pmemcsi.pmemnative.RegularFile;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The ends of a {@link BlockCopy}: block devices and image files, read and written with
 * {@code O_DIRECT} where the filesystem allows it, so that a copy neither fills the page cache
 * with a volume's bytes nor reads stale cached ones. The last partial 4 KiB block of a length that
 * is not a multiple of it goes through the page cache, which O_DIRECT cannot do.
 */
public final class CopyEnds {

    private CopyEnds() {}

    /** Bytes a device offers; a regular file (a test's stand-in) offers its length. */
    public static long sizeOf(Path device) throws IOException {
        if (Files.isRegularFile(device)) {
            return Files.size(device);
        }
        try {
            return BlockDevice.sizeOf(device);
        } catch (NativeException e) {
            throw new IOException("cannot read the size of " + device + ": " + e.getMessage(), e);
        }
    }

    /** The first {@code length} bytes of a device, all of them possibly data. */
    public static BlockCopy.Source readDevice(Path device, long length) throws IOException {
        Channels ch = Channels.open(device, false, length);
        return new BlockCopy.Source() {
            @Override
            public long length() {
                return length;
            }

            @Override
            public List<long[]> dataRanges() {
                return List.of(new long[] {0, length});
            }

            @Override
            public void read(ByteBuffer dst, long position) throws IOException {
                ch.read(dst, position);
            }

            @Override
            public void close() throws IOException {
                ch.close();
            }
        };
    }

    /** An image, whose holes are found with SEEK_DATA and SEEK_HOLE instead of being read. */
    public static BlockCopy.Source readImage(Path image, long length) throws IOException {
        Channels ch = Channels.open(image, false, length);
        return new BlockCopy.Source() {
            @Override
            public long length() {
                return length;
            }

            @Override
            public List<long[]> dataRanges() throws IOException {
                List<long[]> ranges = new ArrayList<>();
                try (RegularFile f = RegularFile.openReadOnly(image)) {
                    for (long at = 0; at < length; ) {
                        long data = f.nextData(at);
                        if (data >= length) {
                            break;
                        }
                        long hole = f.nextHole(data, length);
                        ranges.add(new long[] {data, hole});
                        at = hole;
                    }
                } catch (NativeException e) {
                    throw new IOException("cannot open " + image + ": " + e.getMessage(), e);
                }
                return ranges;
            }

            @Override
            public void read(ByteBuffer dst, long position) throws IOException {
                ch.read(dst, position);
            }

            @Override
            public void close() throws IOException {
                ch.close();
            }
        };
    }

    /** A new image file of {@code length} bytes, all a hole until written. It must not exist. */
    public static BlockCopy.Sink newImage(Path image, long length) throws IOException {
        Path created = Files.createFile(image,
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try (RandomAccessFile f = new RandomAccessFile(created.toFile(), "rw")) {
            f.setLength(length);
        }
        Channels ch = Channels.open(image, true, length);
        return new BlockCopy.Sink() {
            @Override
            public void write(ByteBuffer src, long position) throws IOException {
                ch.write(src, position);
            }

            @Override
            public void zero(long position, long length) {
                // a hole already
            }

            @Override
            public void finish() throws IOException {
                ch.force();
            }

            @Override
            public void close() throws IOException {
                ch.close();
            }
        };
    }

    /**
     * The first {@code length} bytes of a device to write. Ranges of zeros are zeroed with
     * BLKZEROOUT, which the kernel does its fastest way (a loop device punches a hole in its file,
     * PMEM is cleared by the CPU); a regular file stand-in gets them as a zeroed range.
     */
    public static BlockCopy.Sink writeDevice(Path device, long length) throws IOException {
        Channels ch = Channels.open(device, true, length);
        boolean regular = Files.isRegularFile(device);
        long alignedEnd = length - length % BlockCopy.ALIGN;
        return new BlockCopy.Sink() {
            @Override
            public void write(ByteBuffer src, long position) throws IOException {
                ch.write(src, position);
            }

            @Override
            public void zero(long position, long zeroLength) throws IOException {
                long aligned = Math.max(0, Math.min(zeroLength, alignedEnd - position));
                try {
                    if (aligned > 0) {
                        if (regular) {
                            try (RegularFile f = RegularFile.open(device)) {
                                f.zeroRange(position, aligned);
                            }
                        } else {
                            try (BlockDevice dev = BlockDevice.open(device, false)) {
                                dev.zeroOut(position, aligned);
                            }
                        }
                    }
                } catch (NativeException e) {
                    throw new IOException("zeroing " + device + " at " + position + "+" + aligned + " failed: "
                            + e.getMessage(), e);
                }
                if (aligned < zeroLength) {
                    // The partial last block, less than 4 KiB.
                    ch.write(ByteBuffer.allocate((int) (zeroLength - aligned)), position + aligned);
                }
            }

            @Override
            public void finish() throws IOException {
                ch.force();
            }

            @Override
            public void close() throws IOException {
                ch.close();
            }
        };
    }

    /**
     * Two channels on one file: with O_DIRECT for the whole 4 KiB blocks, through the page cache
     * for a partial last block. Where O_DIRECT is refused (tmpfs), both go through the cache.
     */
    private static final class Channels implements AutoCloseable {
        private final FileChannel direct;
        private final FileChannel cached;
        final long directEnd;

        private Channels(FileChannel direct, FileChannel cached, long directEnd) {
            this.direct = direct;
            this.cached = cached;
            this.directEnd = directEnd;
        }

        static Channels open(Path path, boolean write, long length) throws IOException {
            OpenOption mode = write ? StandardOpenOption.WRITE : StandardOpenOption.READ;
            FileChannel cached = FileChannel.open(path, mode, LinkOption.NOFOLLOW_LINKS);
            FileChannel direct;
            try {
                direct = FileChannel.open(path, Set.of(mode, LinkOption.NOFOLLOW_LINKS, ExtendedOpenOption.DIRECT));
            } catch (IOException | UnsupportedOperationException e) {
                direct = null;
            }
            long directEnd = direct == null ? 0 : length - length % BlockCopy.ALIGN;
            return new Channels(direct, cached, directEnd);
        }

        void read(ByteBuffer dst, long position) throws IOException {
            for (long at = position; dst.hasRemaining(); ) {
                FileChannel ch = at < directEnd ? direct : cached;
                ByteBuffer part = at < directEnd && dst.remaining() > directEnd - at
                        ? dst.slice(dst.position(), (int) (directEnd - at)) : dst.slice();
                int n = ch.read(part, at);
                if (n < 0) {
                    throw new IOException("unexpected end of data at byte " + at);
                }
                dst.position(dst.position() + n);
                at += n;
            }
        }

        void write(ByteBuffer src, long position) throws IOException {
            for (long at = position; src.hasRemaining(); ) {
                FileChannel ch = at < directEnd ? direct : cached;
                ByteBuffer part = at < directEnd && src.remaining() > directEnd - at
                        ? src.slice(src.position(), (int) (directEnd - at)) : src.slice();
                int n = ch.write(part, at);
                src.position(src.position() + n);
                at += n;
            }
        }

        void force() throws IOException {
            if (direct != null) {
                direct.force(true);
            }
            cached.force(true);
        }

        @Override
        public void close() throws IOException {
            try {
                if (direct != null) {
                    direct.close();
                }
            } finally {
                cached.close();
            }
        }
    }
}
