package dev.pmemcsi.ndctl;

import java.nio.ByteBuffer;
import java.util.UUID;

/** {@code uuid_t} is 16 bytes in RFC 4122 order: most significant long first. */
final class Uuids {

    private Uuids() {}

    static byte[] toBytes(UUID uuid) {
        return ByteBuffer.allocate(16).putLong(uuid.getMostSignificantBits())
                .putLong(uuid.getLeastSignificantBits()).array();
    }

    static UUID fromBytes(byte[] b) {
        ByteBuffer bb = ByteBuffer.wrap(b);
        return new UUID(bb.getLong(), bb.getLong());
    }
}
