package dev.pmemcsi.reliability;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The backend as the driver leaves it, read from outside the driver, so that a test can check what
 * a crash or a storm left without trusting the driver's own answers. On the emulated backend: its
 * namespace table ({@code volumes.json}) and region files; on ndctl: the kernel's namespaces and
 * regions ({@link NdctlCli}); on lvm: the driver's volume groups and logical volumes, by their tags
 * ({@link LvmCommand}). Also the node service's records.
 */
final class Backend {

    /** One row of the namespace table. */
    record Row(String id, String region, long offset, long rawBytes, long usableBytes, String state) {
        /**
         * The part of the extent the volume's device shows: the extent without the bytes that
         * stand in for the mode's metadata (where the emulated backend keeps the volume's label).
         */
        Row deviceRange() {
            return new Row(id, region, offset + rawBytes - usableBytes, usableBytes, usableBytes, state);
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    /** The driver name the tests start the driver with: its volume groups and volumes carry it as a tag. */
    private static final String OWNER = "pmem-csi.dev";

    private final Workspace ws;
    private final BackendKind kind = BackendKind.current();

    Backend(Workspace ws) {
        this.ws = ws;
    }

    /**
     * The volumes the backend holds. On ndctl a row is a namespace with allocated space: its name
     * is the volume ID, its region and offset are unknown (-1), and an enabled one is READY.
     */
    List<Row> rows() {
        if (kind == BackendKind.LVM) {
            List<Row> rows = new ArrayList<>();
            for (LvmCommand.Lv lv : ownVolumes()) {
                String id = lv.tags().stream().filter(t -> t.startsWith(OWNER + "/id=")).map(t -> t.substring(OWNER.length() + 4))
                        .findFirst().orElse(lv.name());
                String state = lv.tags().contains(OWNER + "/state=deleting") ? "DELETING"
                        : lv.tags().contains(OWNER + "/state=creating") ? "CREATING" : "READY";
                rows.add(new Row(id, lv.vg(), -1, lv.sizeBytes(), lv.sizeBytes(), state));
            }
            return rows;
        }
        if (kind == BackendKind.NDCTL) {
            return NdctlCli.namespaces().stream().map(n -> new Row(n.name(), "", -1, n.sizeBytes(), n.sizeBytes(),
                    n.enabled() ? "READY" : "DISABLED")).toList();
        }
        Path table = ws.emulated().resolve("volumes.json");
        if (!Files.exists(table)) {
            return List.of();
        }
        try {
            List<Row> rows = new ArrayList<>();
            for (JsonNode v : JSON.readTree(table.toFile()).get("volumes")) {
                rows.add(new Row(v.get("id").asText(), v.get("region").asText(), v.get("offset").asLong(),
                        v.get("rawBytes").asLong(), v.get("usableBytes").asLong(), v.get("state").asText()));
            }
            return rows;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    Row row(String id) {
        return rows().stream().filter(r -> r.id().equals(id)).findFirst()
                .orElseThrow(() -> new AssertionError("no row for " + id + " in " + rows()));
    }

    /** The driver's logical volumes, in its own volume groups. */
    List<LvmCommand.Lv> ownVolumes() {
        List<String> groups = ownGroups().stream().map(LvmCommand.Vg::name).toList();
        return LvmCommand.lvs(lvmLockDir()).stream().filter(lv -> groups.contains(lv.vg()) && lv.tags().contains(OWNER))
                .toList();
    }

    private List<LvmCommand.Vg> ownGroups() {
        return LvmCommand.vgs(lvmLockDir()).stream().filter(vg -> vg.tags().contains(OWNER)).toList();
    }

    /** Where the driver under test keeps lvm's locks: the default, under its state dir. */
    private Path lvmLockDir() {
        return ws.state().resolve("lvm/lock");
    }

    /** The total size of the regions, in bytes of media: on lvm, of the driver's volume groups. */
    long regionBytes() {
        if (kind == BackendKind.LVM) {
            return ownGroups().stream().mapToLong(LvmCommand.Vg::sizeBytes).sum();
        }
        if (kind == BackendKind.NDCTL) {
            return NdctlCli.regions().stream().mapToLong(NdctlCli.Region::sizeBytes).sum();
        }
        try {
            long sum = 0;
            for (int i = 0; Files.exists(ws.emulated().resolve("region" + i + ".img")); i++) {
                sum += Files.size(ws.emulated().resolve("region" + i + ".img"));
            }
            return sum;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Bytes of media held by volumes: the table's extents, or on ndctl what the regions no longer
     * have available (the kernel's accounting, which includes every namespace's metadata).
     */
    long usedBytes() {
        if (kind == BackendKind.LVM) {
            return ownVolumes().stream().mapToLong(LvmCommand.Lv::sizeBytes).sum();
        }
        if (kind == BackendKind.NDCTL) {
            return NdctlCli.regions().stream().mapToLong(r -> r.sizeBytes() - r.availableBytes()).sum();
        }
        return rows().stream().mapToLong(Row::rawBytes).sum();
    }

    /**
     * A size no single region can hold, though the node as a whole could: 1 GiB more than the
     * largest region (read from the region files on the emulated backend, whose sizes depend on who
     * started the driver: {@value DriverProcess#REGIONS} here, the overlay's in the image).
     */
    long largerThanAnyRegion() {
        if (kind == BackendKind.LVM) {
            return ownGroups().stream().mapToLong(LvmCommand.Vg::sizeBytes).max().orElseThrow() + 1024 * Csi.MIB;
        }
        if (kind == BackendKind.NDCTL) {
            return NdctlCli.regions().stream().mapToLong(NdctlCli.Region::sizeBytes).max().orElseThrow() + 1024 * Csi.MIB;
        }
        long largest = 0;
        try {
            for (int i = 0; Files.exists(ws.emulated().resolve("region" + i + ".img")); i++) {
                largest = Math.max(largest, Files.size(ws.emulated().resolve("region" + i + ".img")));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (largest == 0) {
            throw new AssertionError("no region files under " + ws.emulated());
        }
        return largest + 1024 * Csi.MIB;
    }

    /** Whether every byte of a row's extent in its region file is zero. Emulated backend only. */
    boolean extentIsZero(Row r) {
        if (kind != BackendKind.EMULATED) {
            throw new IllegalStateException("extents are read from the emulated backend's region files only");
        }
        Path file = ws.emulated().resolve(r.region() + ".img");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
            long pos = r.offset();
            long end = r.offset() + r.rawBytes();
            while (pos < end) {
                buf.clear().limit((int) Math.min(buf.capacity(), end - pos));
                int n = ch.read(buf, pos);
                if (n <= 0) {
                    return true; // beyond the end of a sparse file: zeros
                }
                buf.flip();
                while (buf.remaining() >= 8) {
                    if (buf.getLong() != 0) {
                        return false;
                    }
                }
                while (buf.hasRemaining()) {
                    if (buf.get() != 0) {
                        return false;
                    }
                }
                pos += n;
            }
            return true;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The node service's staging and publication records. */
    List<String> nodeRecords() {
        Path dir = ws.state().resolve("node");
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        // Records are the files; the freeze records of snapshots live in their own directory, which
        // must be empty too once nothing is frozen.
        try (var files = Files.list(dir)) {
            List<String> records = new ArrayList<>();
            for (Path p : files.sorted().toList()) {
                if (!Files.isDirectory(p)) {
                    records.add(p.getFileName().toString());
                } else {
                    try (var inner = Files.list(p)) {
                        inner.forEach(f -> records.add(p.getFileName() + "/" + f.getFileName()));
                    }
                }
            }
            return records;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
