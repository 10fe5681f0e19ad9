package dev.pmemcsi.controller.snapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The store's files: the commit order, what a start removes, and the copy engine that fills it. */
class SnapshotStoreTest {

    private static final String NODE = "node-a";

    @TempDir
    Path dir;

    private static SnapshotRecord record(String name, String source, long length, long crc) {
        String key = SnapshotIds.key(name);
        return new SnapshotRecord(SnapshotRecord.FORMAT, SnapshotIds.id(key, NODE), name, key, source, length, length,
                "ext4", 1_700_000_000_000_000_000L, crc, true);
    }

    private static List<String> files(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** A device stand-in with data in two places and zeros elsewhere. */
    private Path device(long length) throws IOException {
        Path dev = dir.resolve("device");
        byte[] a = new byte[300_000];
        new Random(1).nextBytes(a);
        try (var ch = java.nio.channels.FileChannel.open(dev, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(a), 4096);
            ch.write(ByteBuffer.wrap(a), length - a.length - 123);
            ch.truncate(length);
            if (ch.size() < length) {
                ch.write(ByteBuffer.wrap(new byte[1]), length - 1);
            }
        }
        return dev;
    }

    private SnapshotRecord take(SnapshotStore store, BlockCopy copy, Path dev, String name, long length)
            throws Exception {
        String key = SnapshotIds.key(name);
        BlockCopy.Result r;
        try (BlockCopy.Source src = CopyEnds.readDevice(dev, length);
             BlockCopy.Sink dst = CopyEnds.newImage(store.temporaryImage(key), length)) {
            r = copy.copy(src, dst, () -> { });
        }
        SnapshotRecord rec = record(name, "vol-1", length, r.crc32c());
        store.commit(rec);
        return rec;
    }

    @Test
    void aCommittedSnapshotIsSparseChecksummedAndRestoresByteForByte() throws Exception {
        long length = 64L << 20 | 4096 | 1000; // not a multiple of 4 KiB: the tail goes through the cache
        Path dev = device(length);
        SnapshotStore store = new SnapshotStore(dir.resolve("snapshots"));
        store.start();
        BlockCopy copy = new BlockCopy();
        SnapshotRecord rec = take(store, copy, dev, "s1", length);
        Path image = store.image(rec.key());
        assertEquals(length, Files.size(image));
        assertTrue(store.storedBytes() < 2 << 20, "zero chunks are holes: " + store.storedBytes() + " bytes stored");
        assertEquals(List.of(rec.key() + ".img", rec.key() + ".json"), files(store.dir()));

        Path target = dir.resolve("target");
        byte[] junk = new byte[1 << 20];
        new Random(2).nextBytes(junk);
        Files.write(target, junk); // old bytes where the image has zeros must be zeroed
        try (var ch = java.nio.channels.FileChannel.open(target, java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[1]), length - 1);
        }
        BlockCopy.Result back;
        try (BlockCopy.Source src = CopyEnds.readImage(image, length);
             BlockCopy.Sink dst = CopyEnds.writeDevice(target, length)) {
            back = copy.copy(src, dst, () -> { });
        }
        assertEquals(rec.crc32c(), back.crc32c(), "the restore reads what the snapshot wrote");
        assertEquals(-1, Files.mismatch(dev, target), "the target holds the device's bytes");
    }

    @Test
    void aStartKeepsCompleteSnapshotsAndRemovesWhatACrashLeft() throws Exception {
        Path dev = device(8 << 20);
        SnapshotStore store = new SnapshotStore(dir.resolve("snapshots"));
        store.start();
        SnapshotRecord kept = take(store, new BlockCopy(), dev, "kept", 8 << 20);
        // A crash before the rename: a temporary image.
        Files.write(store.temporaryImage(SnapshotIds.key("tmp")), new byte[10]);
        // A crash after the rename, before the metadata: an image alone.
        Files.write(store.image(SnapshotIds.key("alone")), new byte[10]);
        // A crash while writing the metadata: its temporary.
        Files.write(store.dir().resolve(SnapshotIds.key("meta") + ".json.tmp"), new byte[10]);
        // Metadata whose image is gone is damaged: set aside, not listed.
        SnapshotRecord lost = record("lost", "vol-2", 4096, 0);
        Files.write(store.dir().resolve(lost.key() + ".json"), lost.toJson());

        SnapshotStore again = new SnapshotStore(store.dir());
        again.start();
        assertEquals(List.of(kept), again.list());
        assertEquals(List.of(kept.key() + ".img", kept.key() + ".json", lost.key() + ".json.unreadable").stream()
                .sorted().toList(), files(store.dir()));
    }

    @Test
    void deleteRemovesMetadataFirstAndIsRepeatable() throws Exception {
        Path dev = device(8 << 20);
        SnapshotStore store = new SnapshotStore(dir.resolve("snapshots"));
        store.start();
        SnapshotRecord r = take(store, new BlockCopy(), dev, "d", 8 << 20);
        store.delete(r.key());
        store.delete(r.key());
        assertEquals(List.of(), store.list());
        assertEquals(0, store.count());
        assertEquals(List.of(), files(store.dir()));
    }

    @Test
    void idsCarryTheNodeAndParseBack() {
        String key = SnapshotIds.key("snapshot-1234");
        String id = SnapshotIds.id(key, NODE);
        assertTrue(id.length() <= 128);
        SnapshotIds.Parsed p = SnapshotIds.parse(id).orElseThrow();
        assertEquals(key, p.key());
        assertTrue(p.isOf(NODE));
        assertFalse(p.isOf("node-b"));
        assertTrue(p.describeNode().contains(NODE));
        String longNode = "n".repeat(200);
        String hashed = SnapshotIds.id(key, longNode);
        assertTrue(hashed.length() <= 128, hashed);
        assertTrue(SnapshotIds.parse(hashed).orElseThrow().isOf(longNode));
        assertTrue(SnapshotIds.parse("snap-xyz-node").isEmpty());
        assertTrue(SnapshotIds.parse("").isEmpty());
    }

    @Test
    void rangesWidenToTheChunkGrid() {
        int c = BlockCopy.CHUNK;
        List<long[]> grid = BlockCopy.toChunkGrid(List.of(new long[] {4096, 8192}, new long[] {c + 1, c + 2},
                new long[] {5L * c, 5L * c + 10}), 5L * c + 100);
        assertEquals(2, grid.size());
        assertEquals(0, grid.get(0)[0]);
        assertEquals(2L * c, grid.get(0)[1]);
        assertEquals(5L * c, grid.get(1)[0]);
        assertEquals(5L * c + 100, grid.get(1)[1]);
    }
}
