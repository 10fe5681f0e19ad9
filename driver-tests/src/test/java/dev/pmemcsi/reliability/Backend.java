package dev.pmemcsi.reliability;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The emulated backend's files as the driver leaves them on disk: its namespace table
 * ({@code volumes.json}), its region files, and the node service's records. Read from outside the
 * driver, so that a test can check what a crash left without trusting the driver's own answers.
 */
final class Backend {

    /** One row of the namespace table. */
    record Row(String id, String region, long offset, long rawBytes, long usableBytes, String state) {}

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Workspace ws;

    Backend(Workspace ws) {
        this.ws = ws;
    }

    List<Row> rows() {
        Path table = ws.emulated().resolve("volumes.json");
        if (!Files.exists(table)) {
            return List.of();
        }
        try {
            List<Row> rows = new ArrayList<>();
            for (JsonNode v : JSON.readTree(table.toFile()).get("volumes")) {
                rows.add(new Row(v.get("id").asText(), v.get("region").asText(), v.get("offset").asLong(),
                        v.get("rawBytes").asLong(), v.get("usableBytes").asLong(), v.get("state").asText()));
            }
            return rows;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    Row row(String id) {
        return rows().stream().filter(r -> r.id().equals(id)).findFirst()
                .orElseThrow(() -> new AssertionError("no row for " + id + " in " + rows()));
    }

    /** The total size of the regions, in bytes of media. */
    long regionBytes() {
        try {
            long sum = 0;
            for (int i = 0; Files.exists(ws.emulated().resolve("region" + i + ".img")); i++) {
                sum += Files.size(ws.emulated().resolve("region" + i + ".img"));
            }
            return sum;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Whether every byte of a row's extent in its region file is zero. */
    boolean extentIsZero(Row r) {
        Path file = ws.emulated().resolve(r.region() + ".img");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
            long pos = r.offset();
            long end = r.offset() + r.rawBytes();
            while (pos < end) {
                buf.clear().limit((int) Math.min(buf.capacity(), end - pos));
                int n = ch.read(buf, pos);
                if (n <= 0) {
                    return true; // beyond the end of a sparse file: zeros
                }
                buf.flip();
                while (buf.remaining() >= 8) {
                    if (buf.getLong() != 0) {
                        return false;
                    }
                }
                while (buf.hasRemaining()) {
                    if (buf.get() != 0) {
                        return false;
                    }
                }
                pos += n;
            }
            return true;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The node service's staging and publication records. */
    List<String> nodeRecords() {
        Path dir = ws.state().resolve("node");
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (var files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
