package dev.pmemcsi.device.lvm;

import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.pmemnative.AtomicFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The creates that have not finished: one small file per logical volume, written durably before
 * its {@code lvcreate} and deleted durably once its old signatures are wiped.
 *
 * <p>A new logical volume may lie on extents that held another volume's filesystem, and lvm
 * commits the volume before the driver wipes that filesystem's signatures. A crash in between must
 * not leave a volume that a retried CreateVolume would hand out with someone else's filesystem on
 * it. The record says which volumes may be in that state: {@link LvmDeviceManager#start()} and the
 * next create of the same ID remove them. Since a create returns only after its record is gone
 * from stable storage, a volume a caller was ever given has no record, and removing one that has a
 * record loses nothing.
 *
 * <p>Keeping this in a file rather than in a tag of the volume saves the create a second lvm
 * metadata change ({@code lvchange --deltag}), which costs as much as the {@code lvcreate} itself;
 * three small synchronous writes to the state directory cost a fraction of one lvm command.
 */
final class PendingCreates {

    /** One unfinished create: the volume group and logical volume lvm may have made, and for which volume ID. */
    record Pending(String vg, String lv, String volumeId) {
        String fullName() {
            return vg + "/" + lv;
        }
    }

    private final Path dir;

    PendingCreates(Path dir) {
        this.dir = dir;
    }

    void createDirectory() throws DeviceException {
        try {
            Files.createDirectories(dir);
            // The directory must itself survive a power loss before the first record in it does.
            AtomicFile.syncDirectory(dir.toAbsolutePath().getParent());
        } catch (IOException e) {
            throw new DeviceException("cannot create the directory of pending creates " + dir + ": " + e, e);
        }
    }

    /** Durably records that {@code vg/lv} is about to be made for {@code volumeId}. */
    void record(Pending p) throws DeviceException {
        byte[] text = (p.vg() + "\n" + p.lv() + "\n" + p.volumeId() + "\n").getBytes(StandardCharsets.UTF_8);
        try {
            AtomicFile.write(file(p.lv()), text, AtomicFile.Durability.DURABLE);
        } catch (IOException e) {
            throw new DeviceException("cannot record the create of volume " + p.volumeId() + " in " + dir + ": " + e, e);
        }
    }

    /** Durably forgets the create of {@code lv}: its volume is wiped, or gone. */
    void clear(String lv) throws DeviceException {
        try {
            AtomicFile.delete(file(lv));
        } catch (IOException e) {
            throw new DeviceException("cannot remove the record of the create of " + lv + " from " + dir + ": " + e, e);
        }
    }

    boolean isPending(String lv) {
        return Files.exists(file(lv));
    }

    /**
     * Every recorded create. A record cut short by a crash in {@link AtomicFile#write} is only a
     * temporary file, which is removed: its lvcreate never ran.
     */
    List<Pending> all() throws DeviceException {
        List<Pending> out = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path f : files) {
                String name = f.getFileName().toString();
                if (name.endsWith(AtomicFile.TEMP_SUFFIX)) {
                    Files.deleteIfExists(f);
                    continue;
                }
                List<String> lines = Files.readAllLines(f, StandardCharsets.UTF_8);
                if (lines.size() < 3 || !lines.get(1).equals(name)) {
                    throw new DeviceException("the record of a pending create " + f + " is not \"VG\\nLV\\nVOLUME-ID\": "
                            + lines + "; remove it once the logical volume it names is checked by hand");
                }
                out.add(new Pending(lines.get(0), lines.get(1), lines.get(2)));
            }
        } catch (IOException e) {
            throw new DeviceException("cannot read the pending creates in " + dir + ": " + e, e);
        }
        return out;
    }

    private Path file(String lv) {
        return dir.resolve(lv);
    }
}
