package dev.pmemcsi.app.observability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.LoggingEvent;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TextLogFormatTest {

    private static String encode(String message, Map<String, String> mdc) {
        LoggerContext ctx = new LoggerContext();
        PatternLayoutEncoder enc = new PatternLayoutEncoder();
        enc.setContext(ctx);
        enc.setPattern(Logging.TEXT_PATTERN);
        enc.start();
        LoggingEvent e = new LoggingEvent("x", ctx.getLogger("dev.pmemcsi.Test"), Level.WARN, message, null, null);
        e.setMDCPropertyMap(mdc);
        return new String(enc.encode(e), StandardCharsets.UTF_8);
    }

    @Test
    void methodAndVolumeAreShownWhenSet() {
        String line = encode("created", Map.of("method", "CreateVolume", "volume", "pvc-1"));
        assertTrue(line.endsWith(" WARN  Test [CreateVolume] volume=pvc-1: created\n"), line);
        String bare = encode("hello", Map.of());
        assertTrue(bare.endsWith(" WARN  Test: hello\n"), bare);
    }

    @Test
    void lineBreaksFromCallersCannotForgeLogLines() {
        String line = encode("volume \"a\nINFO  Fake: forged\" refused",
                Map.of("method", "CreateVolume", "volume", "x\r\nERROR forged"));
        assertEquals(1, line.chars().filter(c -> c == '\n').count(), line);
        assertTrue(line.contains("a\\nINFO  Fake: forged"), line);
        assertTrue(line.contains("volume=x\\nERROR forged"), line);
    }
}
