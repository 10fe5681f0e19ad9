package dev.pmemcsi.node;

import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.FaultPoints;
import dev.pmemcsi.device.JsonRecord;
import dev.pmemcsi.device.PmemVolume;
import dev.pmemcsi.driver.FilesystemFreezer;
import dev.pmemcsi.driver.FreezeExpiredException;
import dev.pmemcsi.driver.PreconditionFailedException;
import dev.pmemcsi.pmemnative.AtomicFile;
import dev.pmemcsi.pmemnative.NativeException;
import dev.pmemcsi.pmemnative.mount.FilesystemFreeze;
import dev.pmemcsi.pmemnative.mount.MountTable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import jnr.constants.platform.Errno;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Freezes a staged volume's filesystem for the copy of its device (snapshots and clones), the
 * node's side of {@link FilesystemFreezer}.
 *
 * <p>A freeze outlives the process that made it, and a frozen filesystem blocks every writer of
 * every pod that uses the volume. So each freeze is bounded three ways: the hold thaws when it is
 * closed; a watchdog thaws it when its time limit passes, whatever the copy does; and before
 * FIFREEZE a record "frozen at PATH" is made durable in {@code freezes/}, which {@link #thawLeftovers}
 * reads at the next start, after a crash, to thaw what the crash left frozen.
 */
final class Freezes implements FilesystemFreezer {

    private static final Logger LOG = LoggerFactory.getLogger(Freezes.class);
    private static final String SUFFIX = ".json";

    // Test-only crash point (see FaultPoints).
    /** The filesystem is frozen and its record durable; the copy has not started. */
    static final String FAULT_FROZEN = "node.freeze.frozen";

    /**
     * What a freeze record holds: enough to thaw after a crash, and to say what it was for. The
     * file is one JSON object without blanks, {@code {"volumeId":…,"path":…,"frozenAt":…}}.
     */
    record FreezeRecord(String volumeId, String path, String frozenAt) {

        byte[] toJson() throws IOException {
            return JsonRecord.write(false, g -> {
                g.writeStartObject();
                JsonRecord.writeString(g, "volumeId", volumeId);
                JsonRecord.writeString(g, "path", path);
                JsonRecord.writeString(g, "frozenAt", frozenAt);
                g.writeEndObject();
            });
        }

        /** Only the path is needed to thaw; a record without it is unreadable. */
        static FreezeRecord fromJson(byte[] json) throws IOException {
            JsonRecord r = JsonRecord.parse(json).requireOnly(false, "volumeId", "path", "frozenAt");
            return new FreezeRecord(r.string("volumeId"), r.requiredString("path"), r.string("frozenAt"));
        }
    }

    private final NodeState state;
    private final NodePaths paths;
    private final DeviceManager devices;
    private final Path dir;
    private final ScheduledExecutorService watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "freeze-watchdog");
        t.setDaemon(true);
        return t;
    });

    Freezes(NodeState state, NodePaths paths, DeviceManager devices, Path dir) {
        this.state = state;
        this.paths = paths;
        this.devices = devices;
        this.dir = dir;
    }

    /**
     * Thaws every filesystem a record names, then forgets the records: they belong to freezes a
     * crash interrupted (or a reboot ended already, when the thaw finds nothing frozen). Returns
     * how many filesystems were thawed.
     */
    int thawLeftovers() throws IOException {
        Files.createDirectories(dir);
        // The records' directory must itself survive a power loss before the first record does.
        AtomicFile.syncDirectory(dir.toAbsolutePath().getParent());
        int thawed = 0;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path f : files) {
                String name = f.getFileName().toString();
                if (name.endsWith(AtomicFile.TEMP_SUFFIX)) {
                    Files.deleteIfExists(f);
                    continue;
                }
                if (!name.endsWith(SUFFIX)) {
                    continue;
                }
                FreezeRecord r;
                try {
                    r = FreezeRecord.fromJson(Files.readAllBytes(f));
                } catch (IOException e) {
                    LOG.error("freeze record {} is unreadable ({}); removing it", f, e.getMessage());
                    AtomicFile.delete(f);
                    continue;
                }
                Path path = Path.of(r.path());
                if (!paths.allows(path)) {
                    LOG.error("freeze record {} names {}, outside the kubelet trees; not thawing it", f, path);
                } else {
                    try {
                        if (FilesystemFreeze.thaw(path)) {
                            thawed++;
                            LOG.warn("thawed the filesystem of volume {} at {}, frozen since {} by a copy that a"
                                    + " restart interrupted", r.volumeId(), path, r.frozenAt());
                        } else {
                            LOG.info("the filesystem of volume {} at {} was no longer frozen", r.volumeId(), path);
                        }
                    } catch (NativeException e) {
                        // Unmounted meanwhile (ENOENT, not a mount point): nothing frozen is left there.
                        LOG.warn("cannot thaw {} of volume {}: {}; forgetting the record", path, r.volumeId(),
                                e.getMessage());
                    }
                }
                AtomicFile.delete(f);
            }
        }
        return thawed;
    }

    @Override
    public Held hold(String volumeId, Duration limit) throws IOException, PreconditionFailedException {
        Optional<Attachment> staged = state.staged(volumeId);
        if (staged.isEmpty()) {
            return new Plain(Hold.NOT_IN_USE);
        }
        Attachment a = staged.get();
        if (a.access() == Attachment.Access.BLOCK) {
            return new Plain(Hold.RAW_BLOCK_IN_USE);
        }
        Optional<PmemVolume> volume;
        try {
            volume = devices.getVolume(volumeId);
        } catch (dev.pmemcsi.device.DeviceException e) {
            throw new IOException("cannot look up volume " + volumeId + ": " + e.getMessage(), e);
        }
        if (volume.isEmpty()
                || !MountPoints.showsVolume(volume.get().devicePath(), Attachment.Access.MOUNT, a.realPath(),
                        MountTable.read())) {
            // Recorded but not mounted (a mount that vanished): the caller's exclusive open of the
            // device tells whether anything else holds it.
            return new Plain(Hold.NOT_IN_USE);
        }
        return freeze(volumeId, a.realPath(), limit);
    }

    private Held freeze(String volumeId, Path mountPoint, Duration limit)
            throws IOException, PreconditionFailedException {
        Files.createDirectories(dir);
        Path record = dir.resolve(recordName(mountPoint));
        AtomicFile.write(record, new FreezeRecord(volumeId, mountPoint.toString(), Instant.now().toString()).toJson(),
                AtomicFile.Durability.DURABLE);
        try {
            FilesystemFreeze.freeze(mountPoint);
        } catch (NativeException e) {
            AtomicFile.delete(record);
            if (e.is(Errno.EBUSY)) {
                throw new PreconditionFailedException("the filesystem of volume " + volumeId + " at " + mountPoint
                        + " is frozen already, by someone else (fsfreeze?); it cannot be copied consistently until"
                        + " it is thawed");
            }
            if (e.is(Errno.EOPNOTSUPP)) {
                throw new PreconditionFailedException("the filesystem of volume " + volumeId + " at " + mountPoint
                        + " cannot be frozen: " + e.getMessage());
            }
            throw new IOException("freezing the filesystem of volume " + volumeId + " at " + mountPoint + " failed: "
                    + e.getMessage(), e);
        }
        LOG.info("froze the filesystem of volume {} at {} for a copy, for at most {} s", volumeId, mountPoint,
                limit.toSeconds());
        Frozen frozen = new Frozen(volumeId, mountPoint, record, limit);
        frozen.watch(watchdog.schedule(frozen::expire, limit.toMillis(), TimeUnit.MILLISECONDS));
        FaultPoints.reached(FAULT_FROZEN);
        return frozen;
    }

    private static String recordName(Path mountPoint) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(mountPoint.toString().getBytes(StandardCharsets.UTF_8));
            return "frozen-" + HexFormat.of().formatHex(d, 0, 16) + SUFFIX;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by every Java runtime", e);
        }
    }

    /** A hold that froze nothing. */
    private record Plain(Hold hold) implements Held {
        @Override
        public Optional<Path> mountPoint() {
            return Optional.empty();
        }

        @Override
        public void requireStill() {
            // nothing was frozen, so nothing can thaw early
        }

        @Override
        public void close() {
            // nothing to release
        }
    }

    /** A frozen filesystem; thawed by {@link #close} or by the watchdog, whichever comes first. */
    private static final class Frozen implements Held {
        private final String volumeId;
        private final Path mountPoint;
        private final Path record;
        private final Duration limit;
        private final long start = System.nanoTime();
        private ScheduledFuture<?> timer;
        private boolean thawed;
        private boolean expired;

        Frozen(String volumeId, Path mountPoint, Path record, Duration limit) {
            this.volumeId = volumeId;
            this.mountPoint = mountPoint;
            this.record = record;
            this.limit = limit;
        }

        synchronized void watch(ScheduledFuture<?> timer) {
            this.timer = timer;
        }

        @Override
        public Hold hold() {
            return Hold.FROZEN;
        }

        @Override
        public Optional<Path> mountPoint() {
            return Optional.of(mountPoint);
        }

        @Override
        public synchronized void requireStill() throws FreezeExpiredException {
            if (expired) {
                throw new FreezeExpiredException("the filesystem of volume " + volumeId + " at " + mountPoint
                        + " was thawed after the freeze limit of " + limit.toSeconds() + " s, before its copy was"
                        + " finished; the copy is discarded. Retry when the node is less busy, or raise"
                        + " --snapshot-freeze-limit");
            }
        }

        /** The watchdog: the pods' writers must not wait longer than the limit, whatever the copy does. */
        synchronized void expire() {
            if (thawed) {
                return;
            }
            expired = true;
            LOG.warn("the freeze of volume {} at {} reached its limit of {} s; thawing it, the copy will fail",
                    volumeId, mountPoint, limit.toSeconds());
            try {
                thaw();
            } catch (IOException e) {
                LOG.error("the watchdog cannot thaw {}: {}", mountPoint, e.getMessage(), e);
            }
        }

        @Override
        public synchronized void close() throws IOException {
            if (timer != null) {
                timer.cancel(false);
            }
            if (!thawed) {
                thaw();
                LOG.info("thawed the filesystem of volume {} at {} after {} ms", volumeId, mountPoint,
                        (System.nanoTime() - start) / 1_000_000);
            }
        }

        private void thaw() throws IOException {
            try {
                FilesystemFreeze.thaw(mountPoint);
            } catch (NativeException e) {
                throw new IOException("thawing the filesystem of volume " + volumeId + " at " + mountPoint
                        + " failed: " + e.getMessage() + "; the record stays, so the next start thaws it", e);
            }
            thawed = true;
            AtomicFile.delete(record);
        }
    }
}
