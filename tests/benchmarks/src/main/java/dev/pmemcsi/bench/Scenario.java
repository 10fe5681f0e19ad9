package dev.pmemcsi.bench;

import java.nio.file.Path;

/** One benchmark scenario of the suite. It prints what it measured and asserts nothing. */
interface Scenario {

    /**
     * Settings shared by every scenario of a run.
     *
     * @param stageDevice the device the stage scenario formats instead of an emulated volume, or null
     */
    record Settings(Path repo, boolean quick, String fsType, Path stageDevice) {
        /** {@code full} repetitions normally, {@code quick} with --quick. */
        int reps(int full, int quick) {
            return this.quick ? quick : full;
        }
    }

    String name();

    void run(Settings settings, Report report) throws Exception;
}
