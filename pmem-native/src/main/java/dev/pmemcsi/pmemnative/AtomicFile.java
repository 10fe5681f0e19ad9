package dev.pmemcsi.pmemnative;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * The one way the driver replaces a small state file: write a temporary sibling, fsync it, rename
 * it over the file. A reader sees the old or the new contents, never a mix, whatever crashes in
 * between. The rename itself survives a power loss only once the directory is synced, which
 * {@link Durability#DURABLE} does and {@link Durability#ORDERED} leaves to a later sync, for
 * records whose previous version is safe to come back.
 */
public final class AtomicFile {

    /** The suffix of the temporary file; a reader of the directory removes leftovers with it. */
    public static final String TEMP_SUFFIX = ".tmp";

    /** How far a write must have reached when {@link #write} returns. */
    public enum Durability {
        /** The contents and the rename are on stable storage. */
        DURABLE,
        /** The contents are; a crash may still bring back the previous file (or none). */
        ORDERED
    }

    private AtomicFile() {}

    /** Replaces {@code file} with {@code bytes}. */
    public static void write(Path file, byte[] bytes, Durability durability) throws IOException {
        Path temp = file.resolveSibling(file.getFileName() + TEMP_SUFFIX);
        try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer buf = ByteBuffer.wrap(bytes);
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            ch.force(true);
        }
        Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        if (durability == Durability.DURABLE) {
            syncDirectory(file.toAbsolutePath().getParent());
        }
    }

    /** Deletes {@code file} if it exists, durably. */
    public static void delete(Path file) throws IOException {
        if (Files.deleteIfExists(file)) {
            syncDirectory(file.toAbsolutePath().getParent());
        }
    }

    /** Makes the renames and deletions in {@code dir} durable. */
    public static void syncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
