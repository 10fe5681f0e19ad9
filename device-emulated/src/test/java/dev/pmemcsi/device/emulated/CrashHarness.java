package dev.pmemcsi.device.emulated;

import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeRequest;
import java.nio.file.Path;
import java.util.Map;

/**
 * Runs one operation in a JVM of its own, so that a crash point can kill it mid-way. Exits 0 when
 * the operation ran to the end, which a crash test treats as a failure.
 *
 * <p>Arguments: emulated dir, region sizes, alignment bytes, {@code create|delete|expand|move}, volume
 * ID, required bytes (expand: of a volume in use; move: of one not in use).
 */
public final class CrashHarness {

    private CrashHarness() {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        try (EmulatedDeviceManager m = new EmulatedDeviceManager(dir, EmulatedDeviceManager.parseRegionSizes(args[1],
                Long.parseLong(args[2])), Long.parseLong(args[2]))) {
            m.start();
            switch (args[3]) {
                case "create" -> m.createVolume(new VolumeRequest(args[4], Long.parseLong(args[5]), 0, VolumeMode.FSDAX, true, Map.of()));
                case "delete" -> m.deleteVolume(args[4], true);
                case "expand" -> m.expandVolume(args[4], Long.parseLong(args[5]), 0, true);
                case "move" -> m.expandVolume(args[4], Long.parseLong(args[5]), 0, false);
                default -> throw new IllegalArgumentException(args[3]);
            }
        }
        System.exit(0);
    }
}
