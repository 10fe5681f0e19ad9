package dev.pmemcsi.device.emulated;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.VolumeMode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

/**
 * The bytes of {@code volumes.json} and of the extent labels, as every release so far wrote them:
 * a table or label written by one driver must be read by the next and by the one before.
 */
class TableFormatTest {

    private static final long MIB = 1L << 20;

    private static final VolumeRecord EXACT = new VolumeRecord("pvc-a", "region0", 0, 32 * MIB, 30 * MIB,
            VolumeMode.FSDAX, true, Map.of("pod", "web-0"), VolumeState.READY, false, 16 * MIB, "xfs+block");
    private static final VolumeRecord OLDER = new VolumeRecord("pvc-b", "region1", 48 * MIB, 16 * MIB, 14 * MIB,
            VolumeMode.SECTOR, false, Map.of(), VolumeState.DELETING, true);

    /** A table with one row of each kind, byte for byte as the driver writes it. */
    static final String TABLE = """
            {
              "version" : 1,
              "volumes" : [ {
                "id" : "pvc-a",
                "region" : "region0",
                "offset" : 0,
                "rawBytes" : 33554432,
                "usableBytes" : 31457280,
                "mode" : "FSDAX",
                "eraseAfter" : true,
                "attributes" : {
                  "pod" : "web-0"
                },
                "state" : "READY",
                "eraseOnDelete" : false,
                "capacityBytes" : 16777216,
                "access" : "xfs+block"
              }, {
                "id" : "pvc-b",
                "region" : "region1",
                "offset" : 50331648,
                "rawBytes" : 16777216,
                "usableBytes" : 14680064,
                "mode" : "SECTOR",
                "eraseAfter" : false,
                "attributes" : { },
                "state" : "DELETING",
                "eraseOnDelete" : true,
                "capacityBytes" : null,
                "access" : null
              } ]
            }""";

    /** A row as tables held it before capacity and use were recorded. */
    private static final String ROW_WITHOUT_CAPACITY = "{\"id\":\"pvc-b\",\"region\":\"region1\",\"offset\":50331648,"
            + "\"rawBytes\":16777216,\"usableBytes\":14680064,\"mode\":\"SECTOR\",\"eraseAfter\":false,\"attributes\":{},"
            + "\"state\":\"DELETING\",\"eraseOnDelete\":true}";

    private static List<VolumeRecord> decode(String json) throws IOException {
        return TableStore.decode(json.getBytes(StandardCharsets.UTF_8));
    }

    private static String withColour(String object) {
        return object.substring(0, object.length() - 1) + ",\"colour\":\"red\"}";
    }

    private static String table(String row) {
        return "{\"version\":1,\"volumes\":[" + row + "]}";
    }

    @Test
    void theTableIsWrittenAsBefore() throws IOException {
        assertEquals(TABLE, new String(TableStore.encode(List.of(OLDER, EXACT)), StandardCharsets.UTF_8));
    }

    @Test
    void aWrittenTableIsReadBack() throws IOException {
        assertEquals(List.of(EXACT, OLDER), decode(TABLE));
        assertEquals(List.of(EXACT, OLDER), TableStore.decode(TableStore.encode(List.of(EXACT, OLDER))));
    }

    @Test
    void rowsWithoutCapacityOrUseAreRead() throws IOException {
        assertEquals(List.of(OLDER), decode(table(ROW_WITHOUT_CAPACITY)));
    }

    @Test
    void missingAttributesAreEmptyButEveryNumberAndFlagIsRequired() throws IOException {
        VolumeRecord r = decode(table(ROW_WITHOUT_CAPACITY.replace("\"attributes\":{},", ""))).get(0);
        assertEquals(OLDER, r);
        for (String field : List.of("offset", "rawBytes", "usableBytes", "eraseAfter", "eraseOnDelete")) {
            String row = ROW_WITHOUT_CAPACITY.replaceFirst(",\"" + field + "\":[^,}]*", "");
            assertFalse(row.contains(field), row);
            IOException e = assertThrows(TableStore.UnreadableTableException.class, () -> decode(table(row)), row);
            assertTrue(e.getMessage().contains(field), e.getMessage());
        }
    }

    @Test
    void unknownFieldsMakeTheTableUnreadable() {
        String extraInRow = withColour(ROW_WITHOUT_CAPACITY);
        IOException e = assertThrows(IOException.class, () -> decode(table(extraInRow)));
        assertInstanceOf(TableStore.UnreadableTableException.class, e);
        assertTrue(e.getMessage().contains("colour"), e.getMessage());
        assertThrows(TableStore.UnreadableTableException.class,
                () -> decode("{\"version\":1,\"owner\":\"x\",\"volumes\":[]}"));
    }

    @Test
    void damagedTablesAreUnreadableAndSayWhere() {
        IOException torn = assertThrows(TableStore.UnreadableTableException.class,
                () -> decode(TABLE.substring(0, TABLE.length() / 2)));
        assertTrue(torn.getMessage().startsWith("the namespace table cannot be read: "), torn.getMessage());
        IOException nullNumber = assertThrows(TableStore.UnreadableTableException.class,
                () -> decode(table(ROW_WITHOUT_CAPACITY.replace("\"offset\":50331648", "\"offset\":null"))));
        assertTrue(nullNumber.getMessage().contains("volumes[0].offset"), nullNumber.getMessage());
        IOException text = assertThrows(TableStore.UnreadableTableException.class,
                () -> decode(table(ROW_WITHOUT_CAPACITY.replace("\"rawBytes\":16777216", "\"rawBytes\":\"big\""))));
        assertTrue(text.getMessage().contains("rawBytes"), text.getMessage());
        IOException mode = assertThrows(TableStore.UnreadableTableException.class,
                () -> decode(table(ROW_WITHOUT_CAPACITY.replace("\"SECTOR\"", "\"FAST\""))));
        assertTrue(mode.getMessage().contains("FAST"), mode.getMessage());
        IOException noId = assertThrows(TableStore.UnreadableTableException.class,
                () -> decode(table(ROW_WITHOUT_CAPACITY.replace("\"id\":\"pvc-b\",", ""))));
        assertTrue(noId.getMessage().contains("id"), noId.getMessage());
        assertThrows(TableStore.UnreadableTableException.class, () -> decode(""));
        assertThrows(TableStore.UnreadableTableException.class, () -> decode("null"));
        assertThrows(TableStore.UnreadableTableException.class, () -> decode("{\"version\":1}"));
        assertThrows(TableStore.UnreadableTableException.class, () -> decode("[]"));
    }

    @Test
    void aTableOfAnotherVersionIsRefusedNotDamaged() {
        IOException e = assertThrows(IOException.class, () -> decode("{\"version\":2,\"volumes\":[]}"));
        assertFalse(e instanceof TableStore.UnreadableTableException, e.toString());
        assertTrue(e.getMessage().contains("version 2"), e.getMessage());
    }

    /** A label as the driver writes it: magic, length, CRC32C, the row without blanks. */
    private static byte[] label(String json) {
        byte[] b = json.getBytes(StandardCharsets.UTF_8);
        CRC32C crc = new CRC32C();
        crc.update(b);
        return ByteBuffer.allocate(ExtentLabel.MAGIC.length + 8 + b.length).put(ExtentLabel.MAGIC).putInt(b.length)
                .putInt((int) crc.getValue()).put(b).array();
    }

    private static final String LABEL = "{\"id\":\"pvc-a\",\"region\":\"region0\",\"offset\":0,\"rawBytes\":33554432,"
            + "\"usableBytes\":31457280,\"mode\":\"FSDAX\",\"eraseAfter\":true,\"attributes\":{\"pod\":\"web-0\"},"
            + "\"state\":\"READY\",\"eraseOnDelete\":false,\"capacityBytes\":16777216,\"access\":\"xfs+block\"}";

    private static Optional<VolumeRecord> decodeLabel(byte[] label) {
        return ExtentLabel.decode(label, "region0", 0, 1024 * MIB, 16 * MIB);
    }

    @Test
    void labelsAreWrittenAndReadAsBefore() throws IOException {
        // A label keeps the capacity and the use, so a rebuilt row promises what the lost one did.
        VolumeRecord creating = EXACT.withState(VolumeState.CREATING);
        assertEquals(new String(label(LABEL), StandardCharsets.ISO_8859_1),
                new String(ExtentLabel.encode(creating), StandardCharsets.ISO_8859_1));
        // Labels written without them still read, as rows of the whole device.
        String withoutThem = LABEL.replace("\"capacityBytes\":16777216,\"access\":\"xfs+block\"",
                "\"capacityBytes\":null,\"access\":null");
        assertEquals(Optional.of(new VolumeRecord("pvc-a", "region0", 0, 32 * MIB, 30 * MIB, VolumeMode.FSDAX, true,
                Map.of("pod", "web-0"), VolumeState.READY, false)), decodeLabel(label(withoutThem)));
        assertEquals(Optional.of(EXACT), decodeLabel(label(LABEL)));
        String older = LABEL.replace(",\"capacityBytes\":16777216,\"access\":\"xfs+block\"", "");
        assertEquals(Optional.of(new VolumeRecord("pvc-a", "region0", 0, 32 * MIB, 30 * MIB, VolumeMode.FSDAX, true,
                Map.of("pod", "web-0"), VolumeState.READY, false)), decodeLabel(label(older)));
    }

    @Test
    void labelsWithUnknownFieldsOrDamagedRowsAreNoLabel() {
        assertTrue(decodeLabel(label(withColour(LABEL))).isEmpty());
        assertTrue(decodeLabel(label(LABEL.replace("\"offset\":0", "\"offset\":null"))).isEmpty());
        assertTrue(decodeLabel(label(LABEL.substring(0, 40))).isEmpty());
        assertTrue(decodeLabel(label("null")).isEmpty());
    }
}
