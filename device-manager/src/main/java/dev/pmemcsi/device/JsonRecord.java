package dev.pmemcsi.device;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One JSON object of a state file (the namespace table, node records, snapshot metadata, lvm's
 * reports), read with jackson-core's streaming parser into plain maps and lists, and its fields
 * taken one by one with errors that name the field and where it sits ({@code volumes[2].offset}).
 *
 * <p>The files are a few hundred bytes, so building the whole object first costs nothing, and it
 * keeps the records' own classes free of any JSON binding. Jackson's object mapper, which these
 * files were written and read with before, loaded some 350 classes into every driver process.
 *
 * <p>The rules are those the mapper applied, so that every file the driver ever wrote reads the
 * same: a field this record does not know makes it unreadable; a number or flag that is missing
 * or null makes it unreadable; a missing text, list or map reads as null unless the record asks
 * for every field ({@link #requireOnly(boolean, String...)}); of a repeated field the last counts;
 * whatever follows the object is not looked at.
 */
public final class JsonRecord {

    /** Thread-safe once built; parsers and generators are made per call. */
    private static final JsonFactory FACTORY = new JsonFactory();

    /** A file's content is not the JSON this record expects. */
    public static final class FormatException extends JsonProcessingException {
        private static final long serialVersionUID = 1L;

        public FormatException(String message) {
            super(message);
        }
    }

    private final Map<String, Object> fields;
    /** Where this object sits in the document, e.g. {@code volumes[2]}; empty for the document itself. */
    private final String where;

    private JsonRecord(Map<String, Object> fields, String where) {
        this.fields = fields;
        this.where = where;
    }

    /** The document, which must be one JSON object. */
    public static JsonRecord parse(byte[] json) throws IOException {
        return parse(json, 0, json.length);
    }

    public static JsonRecord parse(byte[] json, int offset, int length) throws IOException {
        try (JsonParser p = FACTORY.createParser(json, offset, length)) {
            return of(parseValue(p), "");
        }
    }

    /**
     * Any JSON document as maps (in the document's order), lists, strings, {@code Long} or
     * {@code BigInteger}, {@code Double}, {@code Boolean} and null.
     */
    public static Object parseValue(String json) throws JsonProcessingException {
        try (JsonParser p = FACTORY.createParser(json)) {
            return parseValue(p);
        } catch (JsonProcessingException e) {
            throw e;
        } catch (IOException e) {
            // A string is no stream: nothing but its syntax can fail.
            throw new FormatException(e.getMessage());
        }
    }

    private static Object parseValue(JsonParser p) throws IOException {
        JsonToken t = p.nextToken();
        if (t == null) {
            throw new FormatException("no JSON content");
        }
        return value(p, t);
    }

    private static Object value(JsonParser p, JsonToken t) throws IOException {
        if (t == null) {
            throw new FormatException("the JSON content ends at " + p.currentLocation().offsetDescription()
                    + ", inside an object or list");
        }
        switch (t) {
            case START_OBJECT: {
                Map<String, Object> m = new LinkedHashMap<>();
                for (String name = p.nextFieldName(); name != null; name = p.nextFieldName()) {
                    m.put(name, value(p, p.nextToken()));
                }
                return m;
            }
            case START_ARRAY: {
                List<Object> l = new ArrayList<>();
                for (JsonToken e = p.nextToken(); e != JsonToken.END_ARRAY; e = p.nextToken()) {
                    l.add(value(p, e));
                }
                return l;
            }
            case VALUE_STRING:
                return p.getText();
            case VALUE_NUMBER_INT:
                return p.getNumberType() == JsonParser.NumberType.BIG_INTEGER ? p.getBigIntegerValue() : p.getLongValue();
            case VALUE_NUMBER_FLOAT:
                return p.getDoubleValue();
            case VALUE_TRUE:
                return Boolean.TRUE;
            case VALUE_FALSE:
                return Boolean.FALSE;
            case VALUE_NULL:
                return null;
            default:
                throw new FormatException("unexpected " + t + " at " + p.currentLocation().offsetDescription());
        }
    }

    @SuppressWarnings("unchecked")
    private static JsonRecord of(Object value, String where) throws FormatException {
        if (!(value instanceof Map)) {
            throw new FormatException((where.isEmpty() ? "the document" : where) + " is " + describe(value)
                    + ", not a JSON object");
        }
        return new JsonRecord((Map<String, Object>) value, where);
    }

    private static String describe(Object value) {
        if (value == null) {
            return "null";
        }
        if (value instanceof String) {
            return "the text \"" + value + "\"";
        }
        if (value instanceof Boolean) {
            return value.toString();
        }
        if (value instanceof Number) {
            return "the number " + value;
        }
        return value instanceof List ? "a list" : "an object";
    }

    private String name(String field) {
        return "\"" + (where.isEmpty() ? field : where + "." + field) + "\"";
    }

    private FormatException wrongType(String field, String expected) {
        return new FormatException("field " + name(field) + " is " + describe(fields.get(field)) + ", not " + expected);
    }

    /**
     * Refuses fields other than {@code known}, and with {@code allPresent} also a known field that
     * is absent (null is a value then, which the accessors judge).
     */
    public JsonRecord requireOnly(boolean allPresent, String... known) throws FormatException {
        List<String> names = List.of(known);
        for (String field : fields.keySet()) {
            if (!names.contains(field)) {
                throw new FormatException("unknown field " + name(field) + "; known are " + String.join(", ", names));
            }
        }
        if (allPresent) {
            for (String field : names) {
                if (!fields.containsKey(field)) {
                    throw new FormatException("field " + name(field) + " is missing");
                }
            }
        }
        return this;
    }

    /** Where this object sits, e.g. {@code volumes[2]}, or "the document". */
    public String where() {
        return where.isEmpty() ? "the document" : where;
    }

    /** A text field that must be there and not null. */
    public String requiredString(String field) throws FormatException {
        String s = string(field);
        if (s == null) {
            throw new FormatException("field " + name(field) + (has(field) ? " is null" : " is missing") + ", not a text");
        }
        return s;
    }

    /** Like {@link #enumValue}, but the field must be there and not null. */
    public <E extends Enum<E>> E requiredEnum(String field, Class<E> type) throws FormatException {
        E e = enumValue(field, type);
        if (e == null) {
            throw new FormatException("field " + name(field) + (has(field) ? " is null" : " is missing") + ", not one of "
                    + List.of(type.getEnumConstants()));
        }
        return e;
    }

    /** Whether the field is there, null or not. */
    public boolean has(String field) {
        return fields.containsKey(field);
    }

    /** The field's raw value, as {@link #parseValue} gives it; null when absent. */
    public Object raw(String field) {
        return fields.get(field);
    }

    /** A text field; null when absent or null. */
    public String string(String field) throws FormatException {
        Object v = fields.get(field);
        if (v == null || v instanceof String) {
            return (String) v;
        }
        throw wrongType(field, "a text");
    }

    /** A whole number that must be there. */
    public long longValue(String field) throws FormatException {
        Long v = nullableLong(field);
        if (v == null) {
            throw new FormatException("field " + name(field) + (has(field) ? " is null" : " is missing") + ", not a number");
        }
        return v;
    }

    public int intValue(String field) throws FormatException {
        long v = longValue(field);
        if (v != (int) v) {
            throw new FormatException("field " + name(field) + " is " + v + ", out of range");
        }
        return (int) v;
    }

    /** A whole number; null when absent or null. */
    public Long nullableLong(String field) throws FormatException {
        Object v = fields.get(field);
        if (v == null || v instanceof Long) {
            return (Long) v;
        }
        throw wrongType(field, "a whole number of at most 64 bits");
    }

    /** A flag that must be there. */
    public boolean bool(String field) throws FormatException {
        Object v = fields.get(field);
        if (v instanceof Boolean b) {
            return b;
        }
        if (v == null) {
            throw new FormatException("field " + name(field) + (has(field) ? " is null" : " is missing") + ", not true or false");
        }
        throw wrongType(field, "true or false");
    }

    /** One of {@code type}'s constants by its name; null when absent or null. */
    public <E extends Enum<E>> E enumValue(String field, Class<E> type) throws FormatException {
        String s = string(field);
        if (s == null) {
            return null;
        }
        for (E e : type.getEnumConstants()) {
            if (e.name().equals(s)) {
                return e;
            }
        }
        throw new FormatException("field " + name(field) + " is \"" + s + "\", not one of " + List.of(type.getEnumConstants()));
    }

    /** A list of texts; null when absent or null. */
    public List<String> stringList(String field) throws FormatException {
        Object v = fields.get(field);
        if (v == null) {
            return null;
        }
        if (!(v instanceof List<?> l)) {
            throw wrongType(field, "a list of texts");
        }
        List<String> out = new ArrayList<>(l.size());
        for (int i = 0; i < l.size(); i++) {
            if (!(l.get(i) instanceof String s)) {
                throw new FormatException("field " + name(field + "[" + i + "]") + " is " + describe(l.get(i)) + ", not a text");
            }
            out.add(s);
        }
        return out;
    }

    /** An object of texts; null when absent or null. */
    public Map<String, String> stringMap(String field) throws FormatException {
        Object v = fields.get(field);
        if (v == null) {
            return null;
        }
        if (!(v instanceof Map<?, ?> m)) {
            throw wrongType(field, "an object of texts");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : m.entrySet()) {
            if (!(e.getValue() instanceof String s)) {
                throw new FormatException("field " + name(field + "." + e.getKey()) + " is " + describe(e.getValue())
                        + ", not a text");
            }
            out.put((String) e.getKey(), s);
        }
        return out;
    }

    /** A list of objects, each named by its place ({@code volumes[2]}) in errors; null when absent or null. */
    public List<JsonRecord> records(String field) throws FormatException {
        Object v = fields.get(field);
        if (v == null) {
            return null;
        }
        if (!(v instanceof List<?> l)) {
            throw wrongType(field, "a list of objects");
        }
        List<JsonRecord> out = new ArrayList<>(l.size());
        for (int i = 0; i < l.size(); i++) {
            out.add(of(l.get(i), (where.isEmpty() ? field : where + "." + field) + "[" + i + "]"));
        }
        return out;
    }

    /** Writes one document, indented the way the state files always were when {@code indent}. */
    public interface Writer {
        void write(JsonGenerator g) throws IOException;
    }

    /** The UTF-8 bytes {@code writer} generates. */
    public static byte[] write(boolean indent, Writer writer) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream(512);
        try (JsonGenerator g = FACTORY.createGenerator(out, JsonEncoding.UTF8)) {
            if (indent) {
                g.useDefaultPrettyPrinter();
            }
            writer.write(g);
        }
        return out.toByteArray();
    }

    /** A field holding a list of texts, or null. */
    public static void writeStrings(JsonGenerator g, String field, Collection<String> values) throws IOException {
        g.writeFieldName(field);
        if (values == null) {
            g.writeNull();
            return;
        }
        g.writeStartArray();
        for (String v : values) {
            g.writeString(v);
        }
        g.writeEndArray();
    }

    /** A field holding an object of texts, in the map's order, or null. */
    public static void writeStrings(JsonGenerator g, String field, Map<String, String> values) throws IOException {
        g.writeFieldName(field);
        if (values == null) {
            g.writeNull();
            return;
        }
        g.writeStartObject();
        for (Map.Entry<String, String> e : values.entrySet()) {
            g.writeStringField(e.getKey(), e.getValue());
        }
        g.writeEndObject();
    }

    /** A text field that may be null. */
    public static void writeString(JsonGenerator g, String field, String value) throws IOException {
        if (value == null) {
            g.writeNullField(field);
        } else {
            g.writeStringField(field, value);
        }
    }

    /** An enum field by its constant's name, or null. */
    public static void writeEnum(JsonGenerator g, String field, Enum<?> value) throws IOException {
        writeString(g, field, value == null ? null : value.name());
    }
}
