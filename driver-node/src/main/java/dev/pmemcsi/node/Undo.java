package dev.pmemcsi.node;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * The steps that take back what a multi-step operation has done so far: each step that leaves
 * something behind registers how to remove it, and when a later step fails they run newest first,
 * so that the node is as it was before the call. A failing undo step does not stop the others; its
 * failure is added to the original one as suppressed, which is what the caller sees.
 */
final class Undo {

    /** Takes back one step. */
    @FunctionalInterface
    interface Step {
        void run() throws Exception;
    }

    private final Deque<Step> steps = new ArrayDeque<>();

    /** Registers the undoing of a step that is about to be taken or has just been. */
    void add(Step step) {
        steps.push(step);
    }

    /**
     * Runs the registered steps, newest first, and returns {@code failure} to be thrown.
     *
     * @param failure why the operation failed; the undo steps' own failures are added to it
     */
    <E extends Exception> E after(E failure) {
        while (!steps.isEmpty()) {
            try {
                steps.pop().run();
            } catch (Exception e) {
                failure.addSuppressed(e);
            }
        }
        return failure;
    }
}
