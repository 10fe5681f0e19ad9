package dev.pmemcsi.node;

import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.driver.PreconditionFailedException;
import java.util.List;

/**
 * Whether a filesystem gets mounted with DAX, and why (or why not), for the log.
 *
 * @param enable   add {@code dax} to the mount options (and verify it afterwards)
 * @param verify   DAX must be active after the mount: we or the user asked for {@code dax=always}
 * @param reason   why, in words
 */
public record DaxChoice(boolean enable, boolean verify, String reason) {

    private static final List<String> USER_ALWAYS = List.of("dax", "dax=always");

    /**
     * DAX is on by default for a DAX-capable device. A user's {@code dax=never} or
     * {@code dax=inode} mount flag is honoured; asking for DAX on a device without it fails.
     */
    public static DaxChoice decide(PmemVolume volume, List<String> mountFlags) throws PreconditionFailedException {
        boolean userAlways = mountFlags.stream().anyMatch(USER_ALWAYS::contains);
        if (mountFlags.contains("dax=never")) {
            return new DaxChoice(false, false, "the mount flag dax=never turns DAX off");
        }
        if (mountFlags.contains("dax=inode")) {
            return new DaxChoice(false, false, "the mount flag dax=inode leaves DAX to per-file attributes");
        }
        if (!volume.daxCapable()) {
            String why = volume.mode() == VolumeMode.SECTOR
                    ? "it is a sector (usage=FileIO) volume, which never supports DAX"
                    : "its device " + volume.devicePath() + " does not support DAX (" + volume.mode()
                      + " volume on a backend without DAX, such as the emulated one)";
            if (userAlways) {
                throw new PreconditionFailedException("the mount flags ask for DAX, but volume "
                        + volume.id() + " cannot have it: " + why);
            }
            return new DaxChoice(false, false, "DAX is off because " + why);
        }
        // The user's own dax flag already is in the options; adding ours would repeat it.
        return new DaxChoice(!userAlways, true, "the device supports DAX");
    }

    static PreconditionFailedException notActive(PmemVolume volume, String detail) {
        return new PreconditionFailedException("volume " + volume.id() + " on " + volume.devicePath()
                + " should support DAX, but the kernel did not enable it: " + detail
                + "; the kernel log (dmesg) says why");
    }
}
