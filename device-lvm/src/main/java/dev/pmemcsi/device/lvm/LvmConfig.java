package dev.pmemcsi.device.lvm;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * How the driver runs lvm2.
 *
 * @param lockDir   lvm's {@code global/locking_dir}: the file locks that serialise lvm commands on
 *                  one volume group. Every lvm process that may touch the driver's volume groups
 *                  must use the same directory, so a DaemonSet mounts it from the host (see docs/lvm.md).
 * @param backupDir where lvm keeps a copy of each volume group's metadata after every change
 *                  ({@code backup/backup_dir}), for {@code vgcfgrestore}; null turns the copies off
 * @param pendingDir where a create records its volume until the new volume's old signatures are
 *                  wiped ({@link PendingCreates}); it must survive a reboot, as the state
 *                  directory does
 * @param timeout   the longest one lvm command may take; it waits for its locks within that time
 * @param activation false only where the kernel has no device-mapper: lvm then changes metadata
 *                  and never activates a volume. Tests of the metadata on such hosts use it; a
 *                  driver cannot serve volumes that way.
 */
public record LvmConfig(Path lockDir, Path backupDir, Path pendingDir, Duration timeout, boolean activation) {

    public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(2);

    /** Paths that need no quoting in lvm's config language. */
    static final Pattern SAFE_PATH = Pattern.compile("/[A-Za-z0-9/_.:+-]*");

    public LvmConfig {
        Objects.requireNonNull(lockDir, "lockDir");
        Objects.requireNonNull(pendingDir, "pendingDir");
        Objects.requireNonNull(timeout, "timeout");
        lockDir = safe(lockDir);
        pendingDir = pendingDir.toAbsolutePath().normalize();
        backupDir = backupDir == null ? null : safe(backupDir);
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("the lvm timeout must be positive: " + timeout);
        }
    }

    private static Path safe(Path dir) {
        Path abs = dir.toAbsolutePath().normalize();
        if (!SAFE_PATH.matcher(abs.toString()).matches()) {
            throw new IllegalArgumentException("lvm directory " + abs + " has characters other than letters, digits"
                    + " and /_.:+-, which lvm's configuration cannot take unquoted");
        }
        return abs;
    }

    /** Locks, metadata copies and pending creates under {@code lvmDir}, the default timeout, volumes activated. */
    public static LvmConfig under(Path lvmDir) {
        return new LvmConfig(lvmDir.resolve("lock"), lvmDir.resolve("backup"), lvmDir.resolve("pending"), DEFAULT_TIMEOUT,
                true);
    }

    /**
     * The {@code --config} text the driver gives every lvm command it runs on these pool devices,
     * so that a measurement can run lvm's own commands exactly as the driver does.
     */
    public String commandConfig(java.util.List<String> devices) {
        return LvmCli.configText(this, devices);
    }

    public LvmConfig withLockDir(Path dir) {
        return new LvmConfig(dir, backupDir, pendingDir, timeout, activation);
    }
}
