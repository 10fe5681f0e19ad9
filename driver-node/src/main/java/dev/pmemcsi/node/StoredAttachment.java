package dev.pmemcsi.node;

import com.fasterxml.jackson.core.JsonGenerator;
import dev.pmemcsi.device.JsonRecord;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;

/**
 * An {@link Attachment} as its state file holds it: a JSON object with one field per component,
 * paths as plain strings. {@link #FORMAT} counts the layouts the node service ever wrote; 1 was a
 * {@code java.util.Properties} file with the same keys, which {@link #fromProperties} still reads
 * so that records survive an upgrade.
 */
record StoredAttachment(
        int format,
        Attachment.Kind kind,
        Attachment.Phase phase,
        String volumeId,
        String path,
        String realPath,
        Attachment.Access access,
        String fsType,
        List<String> mountFlags,
        String accessMode,
        boolean readOnly,
        String stagingPath,
        boolean ephemeral,
        String deviceId,
        String devicePath,
        boolean eraseAfter) {

    static final int FORMAT = 2;

    /** The fields, in the order they were always written; a record lacking any of them is unreadable. */
    private static final String[] FIELDS = {"format", "kind", "phase", "volumeId", "path", "realPath", "access", "fsType",
        "mountFlags", "accessMode", "readOnly", "stagingPath", "ephemeral", "deviceId", "devicePath", "eraseAfter"};

    /** The record as its file holds it: one indented JSON object. */
    byte[] toJson() throws IOException {
        return JsonRecord.write(true, this::write);
    }

    private void write(JsonGenerator g) throws IOException {
        g.writeStartObject();
        g.writeNumberField("format", format);
        JsonRecord.writeEnum(g, "kind", kind);
        JsonRecord.writeEnum(g, "phase", phase);
        JsonRecord.writeString(g, "volumeId", volumeId);
        JsonRecord.writeString(g, "path", path);
        JsonRecord.writeString(g, "realPath", realPath);
        JsonRecord.writeEnum(g, "access", access);
        JsonRecord.writeString(g, "fsType", fsType);
        JsonRecord.writeStrings(g, "mountFlags", mountFlags);
        JsonRecord.writeString(g, "accessMode", accessMode);
        g.writeBooleanField("readOnly", readOnly);
        JsonRecord.writeString(g, "stagingPath", stagingPath);
        g.writeBooleanField("ephemeral", ephemeral);
        JsonRecord.writeString(g, "deviceId", deviceId);
        JsonRecord.writeString(g, "devicePath", devicePath);
        g.writeBooleanField("eraseAfter", eraseAfter);
        g.writeEndObject();
    }

    /**
     * Reads a record file: every field must be there, and no other; a null text is left to
     * {@link #toAttachment} to refuse, a null number or flag is refused here.
     */
    static StoredAttachment fromJson(byte[] json) throws IOException {
        JsonRecord r = JsonRecord.parse(json).requireOnly(true, FIELDS);
        return new StoredAttachment(r.intValue("format"), r.enumValue("kind", Attachment.Kind.class),
                r.enumValue("phase", Attachment.Phase.class), r.string("volumeId"), r.string("path"), r.string("realPath"),
                r.enumValue("access", Attachment.Access.class), r.string("fsType"), r.stringList("mountFlags"),
                r.string("accessMode"), r.bool("readOnly"), r.string("stagingPath"), r.bool("ephemeral"),
                r.string("deviceId"), r.string("devicePath"), r.bool("eraseAfter"));
    }

    static StoredAttachment of(Attachment a) {
        return new StoredAttachment(FORMAT, a.kind(), a.phase(), a.volumeId(), a.path().toString(),
                a.realPath().toString(), a.access(), a.fsType(), a.mountFlags(), a.accessMode(), a.readOnly(),
                a.stagingPath(), a.ephemeral(), a.deviceId(), a.devicePath().toString(), a.eraseAfter());
    }

    /** @throws IllegalArgumentException when a field is missing or the format is not this one */
    Attachment toAttachment() {
        if (format != FORMAT) {
            throw new IllegalArgumentException("state record has format " + format + ", not " + FORMAT);
        }
        return new Attachment(required(kind, "kind"), required(phase, "phase"), required(volumeId, "volumeId"),
                Path.of(required(path, "path")), Path.of(required(realPath, "realPath")),
                required(access, "access"), required(fsType, "fsType"), required(mountFlags, "mountFlags"),
                required(accessMode, "accessMode"), readOnly, required(stagingPath, "stagingPath"), ephemeral,
                required(deviceId, "deviceId"), Path.of(required(devicePath, "devicePath")), eraseAfter);
    }

    /** Reads a record of format 1. */
    static Attachment fromProperties(Properties p) {
        String flags = required(p, "mountFlags");
        return new Attachment(
                Attachment.Kind.valueOf(required(p, "kind")),
                Attachment.Phase.valueOf(required(p, "phase")),
                required(p, "volumeId"),
                Path.of(required(p, "path")),
                Path.of(required(p, "realPath")),
                Attachment.Access.valueOf(required(p, "access")),
                required(p, "fsType"),
                flags.isEmpty() ? List.of() : List.of(flags.split(",")),
                required(p, "accessMode"),
                Boolean.parseBoolean(required(p, "readOnly")),
                required(p, "stagingPath"),
                Boolean.parseBoolean(required(p, "ephemeral")),
                required(p, "deviceId"),
                Path.of(required(p, "devicePath")),
                Boolean.parseBoolean(required(p, "eraseAfter")));
    }

    private static <T> T required(T value, String key) {
        if (value == null) {
            throw new IllegalArgumentException("state record lacks \"" + key + "\"");
        }
        return value;
    }

    private static String required(Properties p, String key) {
        return required(p.getProperty(key), key);
    }
}
