package dev.pmemcsi.device.emulated;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.VolumeAccess;
import dev.pmemcsi.device.VolumeMode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TableStoreTest {

    private static final long MIB = 1L << 20;

    @TempDir
    Path dir;

    static VolumeRecord rec(String id, long offsetMib, long rawMib, VolumeState state) {
        return new VolumeRecord(id, "region0", offsetMib * MIB, rawMib * MIB, rawMib * MIB - 2 * MIB, VolumeMode.FSDAX,
                true, Map.of("k", "v"), state, false);
    }

    @Test
    void roundTripKeepsEveryField() throws IOException {
        List<VolumeRecord> records = List.of(
                rec("b", 0, 32, VolumeState.READY),
                new VolumeRecord("a", "region1", 16 * MIB, 48 * MIB, 40 * MIB, VolumeMode.SECTOR, false, Map.of(),
                        VolumeState.DELETING, true),
                rec("c", 64, 16, VolumeState.CREATING));
        TableStore store = new TableStore(dir.resolve("volumes.json"));
        assertEquals(List.of(), store.load());
        store.save(records);
        List<VolumeRecord> loaded = store.load();
        assertEquals(List.of(records.get(1), records.get(0), records.get(2)), loaded, "sorted by ID, all fields kept");
        assertFalse(Files.exists(dir.resolve("volumes.json.tmp")));
    }

    @Test
    void capacityAndUseAreKeptAndOlderRowsWithoutThemMeanTheWholeDevice() throws IOException {
        VolumeRecord exact = new VolumeRecord("x", "region0", 0, 32 * MIB, 30 * MIB, VolumeMode.FSDAX, true, Map.of(),
                VolumeState.READY, false, 16 * MIB, "xfs+block");
        List<VolumeRecord> loaded = TableStore.decode(TableStore.encode(List.of(exact)));
        assertEquals(List.of(exact), loaded);
        assertEquals(16 * MIB, loaded.get(0).capacity());
        assertEquals(new VolumeAccess("xfs", true), loaded.get(0).volumeAccess());

        String older = new String(TableStore.encode(List.of(rec("a", 0, 32, VolumeState.READY))), StandardCharsets.UTF_8)
                .replaceAll(",\\s*\"capacityBytes\" : null", "").replaceAll(",\\s*\"access\" : null", "");
        assertFalse(older.contains("capacityBytes") || older.contains("access"), older);
        VolumeRecord old = TableStore.decode(older.getBytes(StandardCharsets.UTF_8)).get(0);
        assertEquals(30 * MIB, old.capacity());
        assertEquals(VolumeAccess.UNRECORDED, old.volumeAccess());
    }

    @Test
    void aTornTemporaryFileIsIgnored() throws IOException {
        TableStore store = new TableStore(dir.resolve("volumes.json"));
        store.save(List.of(rec("a", 0, 32, VolumeState.READY)));
        Files.writeString(dir.resolve("volumes.json.tmp"), "{\"version\":1,\"volu");
        assertEquals(List.of(rec("a", 0, 32, VolumeState.READY)), store.load());
        assertFalse(Files.exists(dir.resolve("volumes.json.tmp")));
    }

    @Test
    void unknownVersionsAndStatesAreRejected() throws IOException {
        byte[] good = TableStore.encode(List.of(rec("a", 0, 32, VolumeState.READY)));
        String text = new String(good, StandardCharsets.UTF_8);
        assertTrue(text.contains("\"READY\""), text);
        assertThrows(IOException.class, () -> TableStore.decode(text.replace("\"version\" : 1", "\"version\" : 2")
                .getBytes(StandardCharsets.UTF_8)));
        assertThrows(IOException.class, () -> TableStore.decode(text.replace("\"READY\"", "\"HALF\"").getBytes(StandardCharsets.UTF_8)));
        assertThrows(IOException.class, () -> TableStore.decode(text.replace("\"rawBytes\"", "\"size\"").getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void impossibleGeometryIsRejectedOnLoad() throws IOException {
        String text = new String(TableStore.encode(List.of(rec("a", 0, 32, VolumeState.READY))), StandardCharsets.UTF_8)
                .replace("\"usableBytes\" : " + 30 * MIB, "\"usableBytes\" : " + 64 * MIB);
        assertThrows(IOException.class, () -> TableStore.decode(text.getBytes(StandardCharsets.UTF_8)));
    }
}
