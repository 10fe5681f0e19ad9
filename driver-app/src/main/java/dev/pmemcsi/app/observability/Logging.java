package dev.pmemcsi.app.observability;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.jul.LevelChangePropagator;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.encoder.Encoder;
import ch.qos.logback.core.spi.ContextAwareBase;
import java.util.Locale;
import org.slf4j.LoggerFactory;
import org.slf4j.bridge.SLF4JBridgeHandler;

/**
 * Logging set up in code, to stderr: {@code text} for humans, {@code json} for log pipelines.
 * Configuring in code avoids parsing an XML file at start-up. Registered as logback's
 * {@link Configurator} so the defaults apply from the first line logged.
 */
public final class Logging extends ContextAwareBase implements Configurator {

    /**
     * One event, one line: line breaks in messages and MDC values (a volume name is the caller's
     * input) are shown as {@code \n}, so no caller can forge a log line. Stack traces follow.
     */
    static final String TEXT_PATTERN = "%d{HH:mm:ss.SSS} %-5level %logger{0}%replace( [%X{method}]){' \\[\\]', ''}"
            + "%replace(%replace( volume=%X{volume}){' volume=$', ''}: %msg){'\r?\n|\r', '\\\\n'}%n";

    public enum Format { TEXT, JSON }

    @Override
    public ExecutionStatus configure(LoggerContext context) {
        apply(context, Format.TEXT, Level.INFO);
        return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
    }

    /** Applies the format and level chosen on the command line. */
    public static void configure(Format format, String level) {
        LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
        apply(ctx, format, parseLevel(level));
    }

    public static Level parseLevel(String level) {
        Level l = Level.toLevel(level.toUpperCase(Locale.ROOT), null);
        if (l == null) {
            throw new IllegalArgumentException("unknown log level \"" + level + "\"; use error, warn, info, debug or trace");
        }
        return l;
    }

    private static void apply(LoggerContext ctx, Format format, Level level) {
        ctx.reset();
        // gRPC logs through java.util.logging. Routed here, its lines get the chosen format and
        // level instead of JUL's two-line text on stderr, which would break one-JSON-object-per-line.
        LevelChangePropagator propagator = new LevelChangePropagator();
        propagator.setContext(ctx);
        propagator.setResetJUL(true);
        propagator.start();
        ctx.addListener(propagator);
        if (!SLF4JBridgeHandler.isInstalled()) {
            SLF4JBridgeHandler.removeHandlersForRootLogger();
            SLF4JBridgeHandler.install();
        }
        Encoder<ILoggingEvent> encoder;
        if (format == Format.JSON) {
            JsonLogEncoder json = new JsonLogEncoder();
            json.setContext(ctx);
            encoder = json;
        } else {
            PatternLayoutEncoder text = new PatternLayoutEncoder();
            text.setContext(ctx);
            text.setPattern(TEXT_PATTERN);
            encoder = text;
        }
        encoder.start();
        ConsoleAppender<ILoggingEvent> appender = new ConsoleAppender<>();
        appender.setContext(ctx);
        appender.setName("stderr");
        appender.setTarget("System.err");
        appender.setEncoder(encoder);
        appender.start();
        Logger root = ctx.getLogger(Logger.ROOT_LOGGER_NAME);
        root.setLevel(level);
        root.addAppender(appender);
        // Netty and gRPC internals are noisy at debug; raise them only when tracing.
        Level libraries = level.isGreaterOrEqual(Level.INFO) ? Level.WARN : level == Level.TRACE ? Level.DEBUG : Level.INFO;
        ctx.getLogger("io.grpc").setLevel(libraries);
        ctx.getLogger("io.grpc.netty.shaded").setLevel(libraries);
        // At debug, gRPC's HTTP/2 frame loggers dump request payloads, and with them CSI secrets.
        ctx.getLogger("io.grpc.netty.shaded.io.grpc.netty.NettyServerHandler").setLevel(Level.INFO);
        ctx.getLogger("io.grpc.netty.shaded.io.grpc.netty.NettyClientHandler").setLevel(Level.INFO);
        // Netty warns that Unix sockets ignore SO_KEEPALIVE, which gRPC sets on every channel.
        ctx.getLogger("io.grpc.netty.shaded.io.netty.bootstrap").setLevel(Level.ERROR);
    }
}
