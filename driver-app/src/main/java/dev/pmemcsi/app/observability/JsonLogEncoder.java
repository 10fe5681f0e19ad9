package dev.pmemcsi.app.observability;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.encoder.EncoderBase;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * One JSON object per line in the Kubernetes JSON log schema, the one the CSI sidecars write with
 * {@code --logging-format=json}, so one pipeline parses them all: {@code ts} (Unix time in
 * milliseconds, a number), {@code msg}, {@code v} (verbosity: 0 for info and warnings, 4 for
 * debug, 5 for trace; errors have none and carry {@code err} instead), then key/value pairs:
 * {@code logger}, {@code severity} on warnings and errors, and the call's MDC fields under their
 * Kubernetes names ({@code method}, {@code volumeID}, {@code code}, {@code durationMs}).
 */
public final class JsonLogEncoder extends EncoderBase<ILoggingEvent> {

    /** MDC keys as the driver sets them, and their names in the JSON line. */
    private static final Map<String, String> KEYS = Map.of("volume", "volumeID", RpcInterceptor.MDC_DURATION, "durationMs");

    @Override
    public byte[] headerBytes() {
        return new byte[0];
    }

    @Override
    public byte[] encode(ILoggingEvent event) {
        StringBuilder sb = new StringBuilder(256);
        sb.append("{\"ts\":");
        long nanos = event.getInstant() != null ? event.getInstant().getNano() % 1_000_000 : 0;
        sb.append(event.getTimeStamp()).append('.').append(String.format("%06d", nanos));
        sb.append(',');
        field(sb, "msg", event.getFormattedMessage());
        Level level = event.getLevel();
        IThrowableProxy t = event.getThrowableProxy();
        if (level.isGreaterOrEqual(Level.ERROR)) {
            if (t != null) {
                sb.append(',');
                field(sb, "err", t.getClassName() + (t.getMessage() == null ? "" : ": " + t.getMessage()));
            }
        } else {
            sb.append(",\"v\":").append(verbosity(level));
        }
        sb.append(',');
        field(sb, "logger", event.getLoggerName());
        if (level.isGreaterOrEqual(Level.WARN)) {
            sb.append(',');
            field(sb, "severity", level == Level.WARN ? "warning" : "error");
        }
        Map<String, String> mdc = event.getMDCPropertyMap();
        if (mdc != null) {
            for (Map.Entry<String, String> e : mdc.entrySet()) {
                sb.append(',');
                String key = KEYS.getOrDefault(e.getKey(), e.getKey());
                if (e.getKey().equals(RpcInterceptor.MDC_DURATION) && isNumber(e.getValue())) {
                    escape(sb, key);
                    sb.append(':').append(e.getValue());
                } else {
                    field(sb, key, e.getValue());
                }
            }
        }
        if (t != null) {
            sb.append(',');
            field(sb, "stacktrace", ThrowableProxyUtil.asString(t));
        }
        sb.append("}\n");
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** klog's convention: V(4) is debug, V(5) trace. */
    private static int verbosity(Level level) {
        if (level.isGreaterOrEqual(Level.INFO)) {
            return 0;
        }
        return level.isGreaterOrEqual(Level.DEBUG) ? 4 : 5;
    }

    @Override
    public byte[] footerBytes() {
        return new byte[0];
    }

    private static boolean isNumber(String s) {
        if (s == null || s.isEmpty() || s.length() > 18) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                return false;
            }
        }
        return true;
    }

    private static void field(StringBuilder sb, String key, String value) {
        escape(sb, key);
        sb.append(':');
        escape(sb, value == null ? "" : value);
    }

    static void escape(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
