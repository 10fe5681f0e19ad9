package dev.pmemcsi.pmemnative;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFileTest {

    @TempDir
    Path dir;

    @Test
    void replacesTheContentsAndLeavesNoTemporaryFile() throws Exception {
        Path f = dir.resolve("table.json");
        AtomicFile.write(f, "old".getBytes(StandardCharsets.UTF_8), AtomicFile.Durability.DURABLE);
        AtomicFile.write(f, "new".getBytes(StandardCharsets.UTF_8), AtomicFile.Durability.ORDERED);
        assertArrayEquals("new".getBytes(StandardCharsets.UTF_8), Files.readAllBytes(f));
        assertFalse(Files.exists(dir.resolve("table.json" + AtomicFile.TEMP_SUFFIX)));
        try (var files = Files.list(dir)) {
            assertTrue(files.allMatch(f::equals));
        }
    }

    @Test
    void aLeftoverTemporaryFileIsOverwritten() throws Exception {
        Path f = dir.resolve("r");
        Files.writeString(dir.resolve("r" + AtomicFile.TEMP_SUFFIX), "a longer half-written leftover");
        AtomicFile.write(f, new byte[] {1}, AtomicFile.Durability.DURABLE);
        assertArrayEquals(new byte[] {1}, Files.readAllBytes(f));
    }

    @Test
    void deleteIsIdempotent() throws Exception {
        Path f = dir.resolve("gone");
        AtomicFile.write(f, new byte[] {1}, AtomicFile.Durability.DURABLE);
        AtomicFile.delete(f);
        AtomicFile.delete(f);
        assertFalse(Files.exists(f));
    }
}
