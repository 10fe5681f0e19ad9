package dev.pmemcsi.app.observability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.LoggingEvent;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonLogEncoderTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private final LoggerContext context = new LoggerContext();

    private JsonNode encode(String message, Map<String, String> mdc, Throwable t) throws Exception {
        LoggingEvent e = new LoggingEvent(getClass().getName(), context.getLogger("dev.pmemcsi.rpc"), Level.WARN,
                message, t, null);
        e.setMDCPropertyMap(mdc);
        String line = new String(new JsonLogEncoder().encode(e), StandardCharsets.UTF_8);
        assertTrue(line.endsWith("}\n") && line.indexOf('\n') == line.length() - 1, "one line: " + line);
        return JSON.readTree(line);
    }

    @Test
    void callFieldsAreTypedAndEscaped() throws Exception {
        JsonNode n = encode("CreateVolume INVALID_ARGUMENT: parameter \"size\"\n\tis \\ wrong \u0001",
                Map.of("method", "CreateVolume", "volume", "pvc-\"quoted\"", "code", "INVALID_ARGUMENT", "duration_ms", "12"), null);
        assertEquals("WARN", n.get("level").asText());
        assertEquals("dev.pmemcsi.rpc", n.get("logger").asText());
        assertEquals("CreateVolume INVALID_ARGUMENT: parameter \"size\"\n\tis \\ wrong \u0001", n.get("message").asText());
        assertEquals("CreateVolume", n.get("method").asText());
        assertEquals("pvc-\"quoted\"", n.get("volume").asText());
        assertEquals("INVALID_ARGUMENT", n.get("code").asText());
        assertTrue(n.get("duration_ms").isNumber());
        assertEquals(12, n.get("duration_ms").asLong());
        assertTrue(n.get("time").asText().matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?Z"), n.get("time").asText());
    }

    @Test
    void aDurationThatIsNotANumberStaysAString() throws Exception {
        JsonNode n = encode("x", Map.of("duration_ms", "12}, \"level\": \"FAKE"), null);
        assertEquals("WARN", n.get("level").asText());
        assertEquals("12}, \"level\": \"FAKE", n.get("duration_ms").asText());
    }

    @Test
    void exceptionsGoIntoOneField() throws Exception {
        JsonNode n = encode("failed", Map.of(), new IllegalStateException("broken"));
        assertTrue(n.get("exception").asText().contains("java.lang.IllegalStateException: broken"));
        assertTrue(n.get("exception").asText().contains("\tat "));
    }
}
