package dev.pmemcsi.device.emulated;

import dev.pmemcsi.device.JsonRecord;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Optional;
import java.util.zip.CRC32C;

/**
 * A copy of a volume's row kept at the start of its own extent, in the bytes that stand in for the
 * mode's metadata and that no loop device shows: the emulated counterpart of a namespace label.
 * With it, the table can be rebuilt from the region files alone when {@code volumes.json} is lost,
 * even after a reboot took the loop devices with it.
 *
 * <p>Layout: a 16-byte magic, the length and CRC32C of the row (big-endian ints), the row as JSON
 * without blanks ({@link VolumeRecord#write}).
 * Erasing the extent erases the label, so a deleted volume never comes back.
 */
final class ExtentLabel {

    static final byte[] MAGIC = "pmem-csi extent\n".getBytes(StandardCharsets.US_ASCII);
    /** Room reserved for a label; every mode's metadata is larger (1 MiB and more). */
    static final int MAX_BYTES = 64 * 1024;
    private static final int HEADER = MAGIC.length + 8;

    private ExtentLabel() {}

    /**
     * The label of a row, as stored: always READY, since only handed-out volumes are rebuilt, and
     * with the promised capacity and the recorded use, so that a rebuilt row promises and allows
     * what the lost one did.
     */
    static byte[] encode(VolumeRecord r) throws IOException {
        VolumeRecord stored = new VolumeRecord(r.id(), r.region(), r.offset(), r.rawBytes(), r.usableBytes(), r.mode(),
                r.eraseAfter(), r.attributes(), VolumeState.READY, false, r.capacityBytes(), r.access());
        byte[] json = JsonRecord.write(false, stored::write);
        if (HEADER + json.length > Math.min(MAX_BYTES, r.rawBytes() - r.usableBytes())) {
            throw new IOException("the label of volume " + r.id() + " takes " + (HEADER + json.length)
                    + " bytes, more than the " + Math.min(MAX_BYTES, r.rawBytes() - r.usableBytes()) + " its extent reserves");
        }
        CRC32C crc = new CRC32C();
        crc.update(json);
        return ByteBuffer.allocate(HEADER + json.length).put(MAGIC).putInt(json.length).putInt((int) crc.getValue())
                .put(json).array();
    }

    /**
     * The row a label read at {@code offset} of {@code region} describes, if the bytes are a
     * complete, intact label of an extent that starts there and fits the region; anything else
     * (zeros, data, a torn or foreign label) is no label.
     */
    static Optional<VolumeRecord> decode(byte[] bytes, String region, long offset, long regionSize, long alignment) {
        if (bytes.length < HEADER || !Arrays.equals(bytes, 0, MAGIC.length, MAGIC, 0, MAGIC.length)) {
            return Optional.empty();
        }
        ByteBuffer b = ByteBuffer.wrap(bytes, MAGIC.length, 8);
        int length = b.getInt();
        int checksum = b.getInt();
        if (length <= 0 || length > bytes.length - HEADER) {
            return Optional.empty();
        }
        CRC32C crc = new CRC32C();
        crc.update(bytes, HEADER, length);
        if ((int) crc.getValue() != checksum) {
            return Optional.empty();
        }
        VolumeRecord r;
        try {
            r = VolumeRecord.read(JsonRecord.parse(bytes, HEADER, length));
        } catch (IOException e) {
            return Optional.empty();
        }
        boolean fits = r.region().equals(region) && r.offset() == offset && r.rawBytes() % alignment == 0
                && r.extent().end() <= regionSize && r.rawBytes() - r.usableBytes() >= HEADER + length
                && r.state() == VolumeState.READY;
        return fits ? Optional.of(r) : Optional.empty();
    }

    static void write(Path regionFile, VolumeRecord r) throws IOException {
        byte[] label = encode(r);
        try (FileChannel ch = FileChannel.open(regionFile, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
            writeFully(ch, ByteBuffer.wrap(label), r.offset());
            ch.force(true);
        }
    }

    /** Zeroes the label area of an extent that never became a volume, so that no rebuild brings it back. */
    static void clear(Path regionFile, VolumeRecord r) throws IOException {
        try (FileChannel ch = FileChannel.open(regionFile, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
            writeFully(ch, ByteBuffer.allocate((int) Math.min(MAX_BYTES, r.rawBytes() - r.usableBytes())), r.offset());
            ch.force(true);
        }
    }

    static Optional<VolumeRecord> read(FileChannel ch, String region, long offset, long regionSize, long alignment)
            throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(MAX_BYTES);
        while (buf.hasRemaining()) {
            if (ch.read(buf, offset + buf.position()) < 0) {
                break;
            }
        }
        return decode(Arrays.copyOf(buf.array(), buf.position()), region, offset, regionSize, alignment);
    }

    static Optional<VolumeRecord> read(Path regionFile, VolumeRecord r, long regionSize, long alignment) throws IOException {
        try (FileChannel ch = FileChannel.open(regionFile, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            return read(ch, r.region(), r.offset(), regionSize, alignment);
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf, position + buf.position());
        }
    }
}
