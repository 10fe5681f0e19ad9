package dev.pmemcsi.device;

/**
 * Health of one volume, as CSI's volume condition needs it.
 *
 * @param abnormal  whether the volume needs attention
 * @param message   what is wrong, for humans; "ok" when nothing is
 * @param badBlocks number of known bad blocks (512-byte sectors) inside the volume
 */
public record VolumeHealth(boolean abnormal, String message, long badBlocks) {

    public static VolumeHealth ok() {
        return new VolumeHealth(false, "ok", 0);
    }
}
