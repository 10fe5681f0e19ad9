package dev.pmemcsi.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonRecordTest {

    private static JsonRecord parse(String json) throws IOException {
        return JsonRecord.parse(json.getBytes(StandardCharsets.UTF_8));
    }

    private static void assertNames(String expected, IOException e) {
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    @Test
    void fieldsAreTypedAndErrorsNameTheirPlace() throws IOException {
        JsonRecord r = parse("{\"n\":7,\"t\":\"x\",\"f\":true,\"l\":[\"a\"],\"m\":{\"k\":\"v\"},\"z\":null,"
                + "\"rows\":[{\"n\":1},{\"n\":\"2\"}]}");
        assertEquals(7, r.longValue("n"));
        assertEquals("x", r.string("t"));
        assertTrue(r.bool("f"));
        assertEquals(List.of("a"), r.stringList("l"));
        assertEquals(Map.of("k", "v"), r.stringMap("m"));
        assertNull(r.string("z"));
        assertNull(r.nullableLong("absent"));
        List<JsonRecord> rows = r.records("rows");
        assertEquals(1, rows.get(0).longValue("n"));
        assertNames("\"rows[1].n\" is the text \"2\"", assertThrows(IOException.class, () -> rows.get(1).longValue("n")));
        assertNames("\"z\" is null", assertThrows(IOException.class, () -> r.longValue("z")));
        assertNames("\"absent\" is missing", assertThrows(IOException.class, () -> r.bool("absent")));
        assertNames("\"t\" is \"x\", not one of", assertThrows(IOException.class,
                () -> r.enumValue("t", VolumeMode.class)));
        assertNames("unknown field \"rows\"", assertThrows(IOException.class,
                () -> r.requireOnly(false, "n", "t", "f", "l", "m", "z")));
        assertNames("\"q\" is missing", assertThrows(IOException.class,
                () -> r.requireOnly(true, "n", "t", "f", "l", "m", "z", "rows", "q")));
    }

    @Test
    void numbersMustBeWholeAndFitALong() throws IOException {
        assertThrows(IOException.class, () -> parse("{\"n\":1.5}").longValue("n"));
        assertThrows(IOException.class, () -> parse("{\"n\":18446744073709551616}").longValue("n"));
        assertNames("out of range", assertThrows(IOException.class, () -> parse("{\"n\":4294967296}").intValue("n")));
        assertEquals(Long.MIN_VALUE, parse("{\"n\":-9223372036854775808}").longValue("n"));
    }

    @Test
    void theLastOfARepeatedFieldCountsAndWhatFollowsTheObjectIsNotRead() throws IOException {
        assertEquals(2, parse("{\"n\":1,\"n\":2} trailing").longValue("n"));
    }

    @Test
    void onlyAnObjectIsARecord() {
        assertNames("the document is null", assertThrows(IOException.class, () -> parse("null")));
        assertNames("a list", assertThrows(IOException.class, () -> parse("[]")));
        assertNames("no JSON content", assertThrows(IOException.class, () -> parse("  ")));
        assertThrows(IOException.class, () -> parse("{\"n\":[1,"));
    }

    @Test
    void writtenDocumentsAreIndentedAsTheStateFilesWere() throws IOException {
        byte[] json = JsonRecord.write(true, g -> {
            g.writeStartObject();
            JsonRecord.writeStrings(g, "l", List.of());
            JsonRecord.writeStrings(g, "m", Map.of());
            JsonRecord.writeString(g, "t", null);
            JsonRecord.writeEnum(g, "e", VolumeMode.FSDAX);
            g.writeEndObject();
        });
        assertEquals("{\n  \"l\" : [ ],\n  \"m\" : { },\n  \"t\" : null,\n  \"e\" : \"FSDAX\"\n}",
                new String(json, StandardCharsets.UTF_8));
    }
}
