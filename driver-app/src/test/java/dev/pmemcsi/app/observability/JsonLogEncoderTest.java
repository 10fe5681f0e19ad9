package dev.pmemcsi.app.observability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.LoggingEvent;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Lines in the Kubernetes JSON log schema, as the sidecars write them with --logging-format=json. */
class JsonLogEncoderTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private final LoggerContext context = new LoggerContext();

    private String line(Level level, String message, Map<String, String> mdc, Throwable t) {
        LoggingEvent e = new LoggingEvent(getClass().getName(), context.getLogger("dev.pmemcsi.rpc"), level,
                message, t, null);
        e.setMDCPropertyMap(mdc);
        String line = new String(new JsonLogEncoder().encode(e), StandardCharsets.UTF_8);
        assertTrue(line.endsWith("}\n") && line.indexOf('\n') == line.length() - 1, "one line: " + line);
        return line;
    }

    private JsonNode encode(Level level, String message, Map<String, String> mdc, Throwable t) throws Exception {
        return JSON.readTree(line(level, message, mdc, t));
    }

    private static List<String> keys(JsonNode n) {
        List<String> keys = new ArrayList<>();
        n.fieldNames().forEachRemaining(keys::add);
        return keys;
    }

    @Test
    void infoLinesStartWithTsMsgAndVerbosityThenTheCallsKeys() throws Exception {
        long before = System.currentTimeMillis();
        JsonNode n = encode(Level.INFO, "CreateVolume OK",
                Map.of("method", "CreateVolume", "volume", "pvc-1", "code", "OK", "duration_ms", "12"), null);
        assertEquals(List.of("ts", "msg", "v"), keys(n).subList(0, 3), n.toString());
        assertTrue(n.get("ts").isNumber(), "ts is Unix time in milliseconds, a number: " + n);
        assertTrue(Math.abs(n.get("ts").asDouble() - before) < 60_000, n.toString());
        assertEquals("CreateVolume OK", n.get("msg").asText());
        assertEquals(0, n.get("v").asInt());
        assertEquals("CreateVolume", n.get("method").asText());
        assertEquals("pvc-1", n.get("volumeID").asText());
        assertEquals("OK", n.get("code").asText());
        assertTrue(n.get("durationMs").isNumber());
        assertEquals(12, n.get("durationMs").asLong());
        assertEquals("dev.pmemcsi.rpc", n.get("logger").asText());
        assertFalse(n.has("volume") || n.has("duration_ms") || n.has("level") || n.has("message") || n.has("time"), n.toString());
    }

    @Test
    void verbosityFollowsTheLevel() throws Exception {
        assertEquals(4, encode(Level.DEBUG, "x", Map.of(), null).get("v").asInt());
        assertEquals(5, encode(Level.TRACE, "x", Map.of(), null).get("v").asInt());
        JsonNode warn = encode(Level.WARN, "x", Map.of(), null);
        assertEquals(0, warn.get("v").asInt());
        assertEquals("warning", warn.get("severity").asText());
    }

    @Test
    void valuesAreEscaped() throws Exception {
        JsonNode n = encode(Level.WARN, "CreateVolume INVALID_ARGUMENT: parameter \"size\"\n\tis \\ wrong \u0001",
                Map.of("volume", "pvc-\"quoted\""), null);
        assertEquals("CreateVolume INVALID_ARGUMENT: parameter \"size\"\n\tis \\ wrong \u0001", n.get("msg").asText());
        assertEquals("pvc-\"quoted\"", n.get("volumeID").asText());
    }

    @Test
    void aDurationThatIsNotANumberStaysAString() throws Exception {
        JsonNode n = encode(Level.WARN, "x", Map.of("duration_ms", "12}, \"v\": \"FAKE"), null);
        assertEquals(0, n.get("v").asInt());
        assertEquals("12}, \"v\": \"FAKE", n.get("durationMs").asText());
    }

    @Test
    void errorsCarryErrAndNoVerbosity() throws Exception {
        JsonNode n = encode(Level.ERROR, "failed", Map.of(), new IllegalStateException("broken"));
        assertFalse(n.has("v"), n.toString());
        assertEquals(List.of("ts", "msg", "err"), keys(n).subList(0, 3), n.toString());
        assertEquals("java.lang.IllegalStateException: broken", n.get("err").asText());
        assertTrue(n.get("stacktrace").asText().contains("\tat "));
        JsonNode plain = encode(Level.ERROR, "cannot start: no PMEM", Map.of(), null);
        assertFalse(plain.has("v"), plain.toString());
        assertEquals("error", plain.get("severity").asText());
    }
}
