package dev.pmemcsi.device.emulated;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Copies a volume's bytes from one extent of the region files to another, when a volume moves to
 * grow. The target is a free extent, which reads as zeros, so chunks of zeros are skipped: the copy
 * keeps the region file sparse and costs only what the volume really holds. The target is flushed
 * before the copy counts as done.
 */
final class ExtentCopier {

    private static final int CHUNK = 4 * 1024 * 1024;

    void copy(Path from, long fromOffset, Path to, long toOffset, long length) throws IOException {
        try (FileChannel src = FileChannel.open(from, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
             FileChannel dst = FileChannel.open(to, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
            ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK);
            for (long done = 0; done < length; ) {
                buf.clear().limit((int) Math.min(CHUNK, length - done));
                while (buf.hasRemaining()) {
                    if (src.read(buf, fromOffset + done + buf.position()) < 0) {
                        throw new IOException(from + " ends before byte " + (fromOffset + length));
                    }
                }
                buf.flip();
                int n = buf.remaining();
                if (!allZero(buf)) {
                    while (buf.hasRemaining()) {
                        dst.write(buf, toOffset + done + buf.position());
                    }
                }
                done += n;
            }
            dst.force(true);
        }
    }

    private static boolean allZero(ByteBuffer buf) {
        ByteBuffer b = buf.duplicate();
        while (b.remaining() >= 8) {
            if (b.getLong() != 0) {
                return false;
            }
        }
        while (b.hasRemaining()) {
            if (b.get() != 0) {
                return false;
            }
        }
        return true;
    }
}
