package dev.pmemcsi.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class UndoTest {

    @Test
    void stepsRunNewestFirstAndTheirFailuresAreSuppressedIntoTheOriginal() {
        List<String> ran = new ArrayList<>();
        Undo undo = new Undo();
        undo.add(() -> ran.add("forget the record"));
        undo.add(() -> {
            ran.add("remove the target");
            throw new IOException("target busy");
        });
        undo.add(() -> ran.add("unmount"));
        IllegalStateException failure = new IllegalStateException("mount failed");

        assertSame(failure, undo.after(failure));
        assertEquals(List.of("unmount", "remove the target", "forget the record"), ran);
        assertEquals(List.of("target busy"),
                Arrays.stream(failure.getSuppressed()).map(Throwable::getMessage).toList());
    }

    @Test
    void stepsRunOnce() {
        List<String> ran = new ArrayList<>();
        Undo undo = new Undo();
        undo.add(() -> ran.add("unmount"));
        undo.after(new IOException("first"));
        undo.after(new IOException("second"));
        assertEquals(List.of("unmount"), ran);
    }
}
