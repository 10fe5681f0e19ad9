package dev.pmemcsi.controller.snapshot;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.zip.CRC32C;

/**
 * Copies a range of bytes between devices and image files, in {@value #BUFFER_BYTES}-byte aligned
 * buffers: a reader thread fills them while the calling thread checks, checksums and writes them,
 * so reading and writing overlap. Memory is bounded: {@value #BUFFERS} buffers per copy, and at
 * most {@value #CONCURRENT_COPIES} copies at a time (the others wait for a turn).
 *
 * <p>The copy works in chunks of {@value #CHUNK} bytes on a grid from offset 0. A chunk of zeros is
 * never written: an image keeps a hole there (it takes no disk space), a device gets the range
 * zeroed in one request per run of zero chunks. The checksum is the CRC32C, over every chunk that
 * is not all zeros in offset order, of its offset (8 bytes, little endian) followed by its bytes
 * ({@link Checksum}); it does not depend on where a file keeps holes.
 */
public final class BlockCopy {

    /** The grid of zero detection and of the checksum. */
    public static final int CHUNK = 64 * 1024;
    static final int BUFFER_BYTES = 4 * 1024 * 1024;
    static final int BUFFERS = 3;
    static final int CONCURRENT_COPIES = 2;
    /** O_DIRECT needs buffers, offsets and lengths aligned to the logical block size; 4 KiB covers all. */
    static final int ALIGN = 4096;

    /** What is read: a device or an image. */
    public interface Source extends Closeable {
        long length();

        /**
         * The ranges that may hold data, in order and not overlapping; everything else reads as
         * zeros. A device is one range; an image lists the extents its holes leave.
         */
        List<long[]> dataRanges() throws IOException;

        /** Reads exactly {@code dst.remaining()} bytes at {@code position}. */
        void read(ByteBuffer dst, long position) throws IOException;
    }

    /** What is written: an image or a device. */
    public interface Sink extends Closeable {
        /** Writes all of {@code src} at {@code position}. */
        void write(ByteBuffer src, long position) throws IOException;

        /** Makes {@code [position, position + length)} read as zeros. */
        void zero(long position, long length) throws IOException;

        /** Makes everything written durable. */
        void finish() throws IOException;
    }

    /** Runs once the last byte is read, before the writing ends: the source may be released early. */
    @FunctionalInterface
    public interface AfterRead {
        void run() throws Exception;
    }

    /** What a copy did. */
    public record Result(long length, long dataBytes, long crc32c) {}

    private final Semaphore slots = new Semaphore(CONCURRENT_COPIES, true);
    private final ByteBuffer zeros = ByteBuffer.allocateDirect(CHUNK).asReadOnlyBuffer();

    /** Copies all of {@code source} to {@code sink}. */
    public Result copy(Source source, Sink sink, AfterRead afterRead) throws Exception {
        slots.acquireUninterruptibly();
        try {
            return new Run(source, sink, afterRead).run();
        } finally {
            slots.release();
        }
    }

    /** The ranges of {@code ranges} widened to whole chunks, merged where they meet, within {@code length}. */
    static List<long[]> toChunkGrid(List<long[]> ranges, long length) {
        List<long[]> out = new ArrayList<>();
        for (long[] r : ranges) {
            long start = r[0] / CHUNK * CHUNK;
            long end = Math.min(length, (r[1] + CHUNK - 1) / CHUNK * CHUNK);
            if (end <= start) {
                continue;
            }
            if (!out.isEmpty() && out.get(out.size() - 1)[1] >= start) {
                long[] last = out.get(out.size() - 1);
                last[1] = Math.max(last[1], end);
            } else {
                out.add(new long[] {start, end});
            }
        }
        return out;
    }

    /** A buffer the reader filled, or the end of the reading (a null buffer, with its failure if any). */
    private record Filled(ByteBuffer buffer, long position, int length, Exception failure) {}

    /** One copy: the reader thread and the writing loop. */
    private final class Run {
        private final Source source;
        private final Sink sink;
        private final AfterRead afterRead;
        private final BlockingQueue<ByteBuffer> free = new ArrayBlockingQueue<>(BUFFERS);
        private final BlockingQueue<Filled> full = new ArrayBlockingQueue<>(BUFFERS + 1);
        private final AtomicBoolean stop = new AtomicBoolean();
        private final CRC32C crc = new CRC32C();
        private final ByteBuffer offsetBytes = ByteBuffer.allocate(Long.BYTES).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        private long zeroStart = -1;
        private long zeroEnd = -1;
        private long dataBytes;

        Run(Source source, Sink sink, AfterRead afterRead) {
            this.source = source;
            this.sink = sink;
            this.afterRead = afterRead;
            for (int i = 0; i < BUFFERS; i++) {
                free.add(ByteBuffer.allocateDirect(BUFFER_BYTES + ALIGN).alignedSlice(ALIGN));
            }
        }

        Result run() throws Exception {
            long length = source.length();
            List<long[]> ranges = toChunkGrid(source.dataRanges(), length);
            Thread reader = new Thread(() -> read(ranges), "snapshot-copy-reader");
            reader.setDaemon(true);
            reader.start();
            try {
                long settled = 0;
                while (true) {
                    Filled f = full.take();
                    if (f.buffer() == null) {
                        if (f.failure() != null) {
                            throw f.failure();
                        }
                        break;
                    }
                    if (f.position() > settled) {
                        zeros(settled, f.position() - settled);
                    }
                    write(f);
                    settled = f.position() + f.length();
                    free.add(f.buffer());
                }
                if (length > settled) {
                    zeros(settled, length - settled);
                }
                flushZeros();
                sink.finish();
                return new Result(length, dataBytes, crc.getValue());
            } finally {
                stop.set(true);
                free.clear();
                full.clear();
                reader.join();
            }
        }

        private void read(List<long[]> ranges) {
            Exception failure = null;
            try {
                for (long[] r : ranges) {
                    for (long pos = r[0]; pos < r[1]; ) {
                        ByteBuffer buf = takeFree();
                        if (buf == null) {
                            return;
                        }
                        int n = (int) Math.min(BUFFER_BYTES, r[1] - pos);
                        buf.clear().limit(n);
                        source.read(buf, pos);
                        full.put(new Filled(buf, pos, n, null));
                        pos += n;
                    }
                }
                afterRead.run();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                failure = e;
            } catch (Exception e) {
                failure = e;
            }
            try {
                full.put(new Filled(null, 0, 0, failure));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        /** The next free buffer, or null when the copy stopped. */
        private ByteBuffer takeFree() throws InterruptedException {
            while (!stop.get()) {
                ByteBuffer b = free.poll(100, TimeUnit.MILLISECONDS);
                if (b != null) {
                    return b;
                }
            }
            return null;
        }

        /** Writes the buffer's chunks that are not all zeros, in runs; notes the others as zeros. */
        private void write(Filled f) throws IOException {
            ByteBuffer buf = f.buffer();
            int runStart = -1;
            for (int at = 0; at < f.length(); at += CHUNK) {
                int n = Math.min(CHUNK, f.length() - at);
                ByteBuffer chunk = buf.slice(at, n);
                if (chunk.mismatch(zeros.slice(0, n)) == -1) {
                    if (runStart >= 0) {
                        sink.write(buf.slice(runStart, at - runStart), f.position() + runStart);
                        runStart = -1;
                    }
                    zeros(f.position() + at, n);
                    continue;
                }
                flushZeros();
                offsetBytes.clear();
                offsetBytes.putLong(f.position() + at).flip();
                crc.update(offsetBytes);
                crc.update(chunk);
                dataBytes += n;
                if (runStart < 0) {
                    runStart = at;
                }
            }
            if (runStart >= 0) {
                sink.write(buf.slice(runStart, f.length() - runStart), f.position() + runStart);
            }
        }

        /** Adds a range to the pending run of zeros, zeroing the run before when they do not meet. */
        private void zeros(long position, long length) throws IOException {
            if (zeroEnd == position) {
                zeroEnd += length;
                return;
            }
            flushZeros();
            zeroStart = position;
            zeroEnd = position + length;
        }

        private void flushZeros() throws IOException {
            if (zeroStart >= 0 && zeroEnd > zeroStart) {
                sink.zero(zeroStart, zeroEnd - zeroStart);
            }
            zeroStart = -1;
            zeroEnd = -1;
        }
    }
}
