package dev.pmemcsi.device.lvm;

import dev.pmemcsi.device.VolumeHealth;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The health of a logical volume from lvm's attributes and the kernel's bad-block list of the pool
 * device beneath it.
 */
final class LvmHealth {

    private static final long SECTOR = 512;

    private LvmHealth() {}

    /** A run of bad 512-byte sectors of a block device. */
    record BadRange(long firstSector, long sectors) {}

    /**
     * @param badSectors bad sectors inside the volume's extents
     * @param deviceExists whether its device-mapper node is there
     */
    static VolumeHealth of(LvmReports.LogicalVolume lv, long badSectors, boolean deviceExists) {
        String attr = lv.attr();
        char state = attr.length() > 4 ? attr.charAt(4) : '?';
        char health = attr.length() > 8 ? attr.charAt(8) : '-';
        if (health == 'p') {
            return new VolumeHealth(true, "a physical volume of logical volume " + lv.fullName()
                    + " is missing (lvm reports it partial): its pool device has gone", badSectors);
        }
        if (health == 'X' || state == 'X') {
            return new VolumeHealth(true, "lvm cannot tell the state of logical volume " + lv.fullName(), badSectors);
        }
        if (state == 's' || state == 'S') {
            return new VolumeHealth(true, "logical volume " + lv.fullName() + " is suspended", badSectors);
        }
        if (state != 'a') {
            return new VolumeHealth(true, "logical volume " + lv.fullName() + " is not active", badSectors);
        }
        if (!deviceExists) {
            return new VolumeHealth(true, "device " + lv.dmPath() + " of logical volume " + lv.fullName()
                    + " has disappeared", badSectors);
        }
        if (badSectors > 0) {
            return new VolumeHealth(true, badSectors + " bad 512-byte blocks in logical volume " + lv.fullName(),
                    badSectors);
        }
        return VolumeHealth.ok();
    }

    /** The kernel's bad blocks of a block device ({@code /sys/class/block/NAME/badblocks}); none when unreadable. */
    static List<BadRange> badBlocks(Path sysfs, String deviceName) {
        Path file = sysfs.resolve("class/block").resolve(deviceName).resolve("badblocks");
        List<BadRange> out = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(file)) {
                String[] f = line.trim().split("\\s+");
                if (f.length == 2) {
                    out.add(new BadRange(Long.parseLong(f[0]), Long.parseLong(f[1])));
                }
            }
        } catch (IOException | NumberFormatException e) {
            return List.of();
        }
        return out;
    }

    static long total(List<BadRange> bad) {
        return bad.stream().mapToLong(BadRange::sectors).sum();
    }

    /**
     * Bad sectors inside a volume's extents on {@code pvDevice}: each range {@code DEV:FIRST-LAST}
     * of physical extents covers {@code [peStart + FIRST * extent, peStart + (LAST + 1) * extent)}.
     */
    static long badSectorsIn(List<String> peRanges, String pvDevice, long peStart, long extentBytes, List<BadRange> bad) {
        long sum = 0;
        for (String range : peRanges) {
            int colon = range.lastIndexOf(':');
            int dash = range.lastIndexOf('-');
            if (colon < 0 || dash < colon || !range.substring(0, colon).equals(pvDevice)) {
                continue;
            }
            long first;
            long last;
            try {
                first = Long.parseLong(range.substring(colon + 1, dash));
                last = Long.parseLong(range.substring(dash + 1));
            } catch (NumberFormatException e) {
                continue;
            }
            long from = (peStart + first * extentBytes) / SECTOR;
            long to = (peStart + (last + 1) * extentBytes) / SECTOR;
            for (BadRange b : bad) {
                long lo = Math.max(from, b.firstSector());
                long hi = Math.min(to, b.firstSector() + b.sectors());
                sum += Math.max(0, hi - lo);
            }
        }
        return sum;
    }
}
