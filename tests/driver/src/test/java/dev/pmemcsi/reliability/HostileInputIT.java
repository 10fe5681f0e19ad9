package dev.pmemcsi.reliability;

import static dev.pmemcsi.reliability.Csi.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.csi.v1.CapacityRange;
import dev.pmemcsi.csi.v1.ControllerGetVolumeRequest;
import dev.pmemcsi.csi.v1.CreateVolumeRequest;
import dev.pmemcsi.csi.v1.CreateVolumeResponse;
import dev.pmemcsi.csi.v1.DeleteVolumeRequest;
import dev.pmemcsi.csi.v1.GetCapacityRequest;
import dev.pmemcsi.csi.v1.ListVolumesRequest;
import dev.pmemcsi.csi.v1.NodeGetVolumeStatsRequest;
import dev.pmemcsi.csi.v1.NodePublishVolumeRequest;
import dev.pmemcsi.csi.v1.NodeStageVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnpublishVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnstageVolumeRequest;
import dev.pmemcsi.csi.v1.Topology;
import dev.pmemcsi.csi.v1.ValidateVolumeCapabilitiesRequest;
import dev.pmemcsi.csi.v1.Volume;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.pmemnative.mount.Mounter;
import io.grpc.Status.Code;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.AfterTry;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Hostile requests of every type the driver serves, generated with fixed seeds and a fixed number
 * of tries per property (150, {@code jqwik.tries.default} in junit-platform.properties; the QEMU
 * guest sets a smaller fixed number; both stated in docs/reliability.md). Every answer must be OK
 * or one of the documented codes of that RPC: never INTERNAL, UNKNOWN or a dead process. After
 * every try the driver's own volume stays intact, nothing outside the driver's volumes is deleted,
 * and no mount, file or foreign mount outside the kubelet trees is touched.
 */
class HostileInputIT {

    private static final String SEED = "424242";

    private static Workspace ws;
    private static DriverProcess driver;
    private static Csi csi;
    /** A volume of the driver that hostile calls must never harm. */
    private static Volume victim;
    private static Path victimStaging;
    private static long availableWithVictim;
    /** Outside the kubelet trees: an empty dir, a file, a bind mount. None may change. */
    private static Path outsideEmpty;
    private static Path outsideFile;
    private static Path foreignMount;
    private static Set<String> outsideBefore;
    /** Symlinks inside the pod tree that point outside it. */
    private static Path linkToOutsideDir;
    private static Path linkToOutsideFile;

    @BeforeContainer
    static void start() throws Exception {
        ws = new Workspace("hostile");
        driver = DriverProcess.start(ws);
        csi = driver.csi();
        victim = csi.create("hostile-victim", 32 * MIB);
        victimStaging = ws.newStagingPath();
        availableWithVictim = csi.available();
        outsideEmpty = Files.createDirectory(ws.outside().resolve("empty"));
        outsideFile = Files.writeString(ws.outside().resolve("file"), "");
        Path src = Files.createDirectory(ws.outside().resolve("src"));
        Files.writeString(src.resolve("precious"), "precious");
        foreignMount = Files.createDirectory(ws.outside().resolve("mnt"));
        new Mounter().bind(src, foreignMount, 0);
        Path pod = ws.newTargetPath().getParent();
        linkToOutsideDir = Files.createSymbolicLink(pod.resolve("link-dir"), outsideEmpty);
        linkToOutsideFile = Files.createSymbolicLink(pod.resolve("link-file"), outsideFile);
        outsideBefore = outsideListing();
    }

    @AfterContainer
    static void stop() throws Exception {
        try {
            assertEquals(List.of(victim), csi.listAll());
            csi.delete(victim.getVolumeId());
            assertEquals(List.of(), csi.listAll());
            new Mounter().unmount(foreignMount);
            driver.stop();
            ws.assertNothingHeld();
        } finally {
            ws.close();
        }
    }

    private static Set<String> outsideListing() throws IOException {
        try (Stream<Path> s = Files.walk(ws.outside())) {
            return s.map(Path::toString).collect(java.util.stream.Collectors.toCollection(TreeSet::new));
        }
    }

    /** After every try: the victim is intact, nothing outside was touched, nothing leaked. */
    @AfterTry
    void nothingHarmed() throws Exception {
        assertTrue(driver.isAlive(), "the driver is alive");
        List<Volume> volumes = csi.listAll();
        assertEquals(List.of(victim), volumes, "only the driver's own volume exists");
        assertEquals(availableWithVictim, csi.available(), "no capacity leaked");
        assertEquals(outsideBefore, outsideListing(), "nothing outside the kubelet trees changed");
        assertTrue(Host.isMountPoint(foreignMount), "a foreign mount is never unmounted");
        List<String> mounts = Host.mountsUnder(ws.root);
        assertEquals(List.of(foreignMount.toString()), mounts, "no mount is left behind");
    }

    private static void assertCode(Set<Code> allowed, Runnable call) {
        Code c = Csi.codeOf(call);
        assertTrue(allowed.contains(c), "answer " + c + " is not among " + allowed);
    }

    private static <T> T callOrNull(Set<Code> allowed, Supplier<T> call) {
        try {
            return call.get();
        } catch (StatusRuntimeException e) {
            assertTrue(allowed.contains(e.getStatus().getCode()),
                    "answer " + e.getStatus() + " is not among " + allowed);
            return null;
        }
    }

    // ------------------------------------------------------------------ generators

    @Provide
    Arbitrary<String> names() {
        return Arbitraries.oneOf(
                Arbitraries.just(""),
                Arbitraries.strings().all().ofMinLength(1).ofMaxLength(80),
                Arbitraries.strings().withChars("abc-./\\\u00e9\u4e2d\ud83d\ude00\0\n ").ofMinLength(1).ofMaxLength(40),
                Arbitraries.strings().alpha().ofLength(5000),
                Arbitraries.of("../../etc", "/", ".", "..", "pmem-" + "0".repeat(56), "namespace0.0", "pmem-csi:x",
                        "hostile-victim", "kube-system/pvc-1", "pvc-\u00fc\u00f1\u00ee", "A".repeat(64)),
                Arbitraries.just(victimId()));
    }

    private static String victimId() {
        return victim == null ? "victim-unknown" : victim.getVolumeId();
    }

    @Provide
    Arbitrary<Long> sizes() {
        return Arbitraries.oneOf(
                Arbitraries.longs().between(-4096, 4096),
                Arbitraries.of(Long.MAX_VALUE, Long.MIN_VALUE, Long.MAX_VALUE - 1, 1L << 62, -1L, 16 * MIB, 16 * MIB + 1),
                Arbitraries.longs().between(0, 5L * 1024 * MIB));
    }

    @Provide
    Arbitrary<VolumeCapability> capabilities() {
        Arbitrary<Integer> modes = Arbitraries.oneOf(Arbitraries.integers().between(0, 7),
                Arbitraries.of(-1, 99, Integer.MAX_VALUE));
        Arbitrary<String> fs = Arbitraries.oneOf(Arbitraries.of("", "ext4", "xfs", "EXT4", "btrfs", "tmpfs", "nfs",
                "ext4,dax", "../ext4"), Arbitraries.strings().ofMaxLength(20));
        Arbitrary<List<String>> flags = Arbitraries.oneOf(Arbitraries.of("dax", "ro", "noatime", "bind", "remount",
                "rbind", "move", "shared", "a,b", "uid=0", "../x", "", "context=\"x\"", "nosuid"),
                Arbitraries.strings().ofMaxLength(30)).list().ofMaxSize(3);
        Arbitrary<Integer> kind = Arbitraries.integers().between(0, 2);
        return Combinators.combine(modes, fs, flags, kind).as((m, f, fl, k) -> {
            VolumeCapability.Builder b = VolumeCapability.newBuilder()
                    .setAccessMode(VolumeCapability.AccessMode.newBuilder().setModeValue(m));
            if (k == 0) {
                b.setMount(VolumeCapability.MountVolume.newBuilder().setFsType(f).addAllMountFlags(fl));
            } else if (k == 1) {
                b.setBlock(VolumeCapability.BlockVolume.getDefaultInstance());
            }
            return b.build();
        });
    }

    @Provide
    Arbitrary<Map<String, String>> parameters() {
        Arbitrary<String> keys = Arbitraries.oneOf(Arbitraries.of("usage", "eraseafter", "persistencyModel",
                "kataContainers", "size", "csi.storage.k8s.io/pvc/name", "csi.storage.k8s.io/ephemeral", "Usage"),
                Arbitraries.strings().ofMaxLength(20));
        Arbitrary<String> values = Arbitraries.oneOf(Arbitraries.of("AppDirect", "FileIO", "true", "false", "normal",
                "cache", "1Gi", "-1", "9999999Ei", "0", "16Mi", ""), Arbitraries.strings().ofMaxLength(20));
        return Arbitraries.maps(keys, values).ofMaxSize(4);
    }

    /** Paths kubelet would never send, and a few it would. */
    @Provide
    Arbitrary<String> paths() {
        return Arbitraries.oneOf(
                Arbitraries.of("", "/", "relative/path", "./x", "a/../b", "/proc", "/etc", "/dev/null", "/sys/kernel",
                        "//", "/tmp/../etc", "\0", "/x\0y"),
                Arbitraries.strings().all().ofMaxLength(60),
                Arbitraries.strings().alpha().ofLength(5000).map(s -> "/" + s),
                Arbitraries.of("__pods/../../outside/empty", "__pods/x/../../../outside", "__outside/empty",
                        "__outside/file", "__outside/mnt", "__link-dir", "__link-file", "__link-dir/child",
                        "__pods/fresh", "__plugins/fresh").map(HostileInputIT::expand));
    }

    private static String expand(String p) {
        if (ws == null) {
            return p;
        }
        return switch (p.substring(2, p.indexOf('/', 2) < 0 ? p.length() : p.indexOf('/', 2))) {
            case "pods" -> ws.pods() + p.substring("__pods".length());
            case "plugins" -> ws.plugins() + p.substring("__plugins".length());
            case "outside" -> ws.outside() + p.substring("__outside".length());
            case "link-dir" -> linkToOutsideDir + p.substring("__link-dir".length());
            case "link-file" -> linkToOutsideFile.toString();
            default -> p;
        };
    }

    // ------------------------------------------------------------------ controller

    @Property(seed = SEED)
    void createVolume(@ForAll("names") String name, @ForAll("sizes") long required, @ForAll("sizes") long limit,
                      @ForAll("capabilities") VolumeCapability cap, @ForAll("parameters") Map<String, String> params) {
        CreateVolumeRequest req = CreateVolumeRequest.newBuilder().setName(name)
                .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(required).setLimitBytes(limit))
                .addVolumeCapabilities(cap).putAllParameters(params).build();
        CreateVolumeResponse r = callOrNull(EnumSet.of(Code.INVALID_ARGUMENT, Code.OUT_OF_RANGE,
                Code.RESOURCE_EXHAUSTED, Code.ALREADY_EXISTS), () -> csi.controller().createVolume(req));
        if (r != null) {
            Volume v = r.getVolume();
            assertTrue(v.getCapacityBytes() >= required && (limit <= 0 || v.getCapacityBytes() <= limit), v.toString());
            if (!v.getVolumeId().equals(victim.getVolumeId())) {
                csi.delete(v.getVolumeId());
            }
        }
    }

    @Property(seed = SEED)
    void deleteValidateAndGetVolume(@ForAll("names") String id, @ForAll("capabilities") VolumeCapability cap,
                                    @ForAll("parameters") Map<String, String> params) {
        if (!id.equals(victim.getVolumeId())) {
            assertCode(EnumSet.of(Code.OK, Code.INVALID_ARGUMENT),
                    () -> csi.controller().deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(id).build()));
        }
        assertCode(EnumSet.of(Code.OK, Code.INVALID_ARGUMENT, Code.NOT_FOUND),
                () -> csi.controller().validateVolumeCapabilities(ValidateVolumeCapabilitiesRequest.newBuilder()
                        .setVolumeId(id).addVolumeCapabilities(cap).putAllParameters(params).build()));
        assertCode(EnumSet.of(Code.OK, Code.INVALID_ARGUMENT, Code.NOT_FOUND),
                () -> csi.controller().controllerGetVolume(ControllerGetVolumeRequest.newBuilder().setVolumeId(id).build()));
    }

    @Property(seed = SEED)
    void listAndCapacity(@ForAll("names") String token, @ForAll("sizes") long max,
                         @ForAll("capabilities") VolumeCapability cap, @ForAll("parameters") Map<String, String> params,
                         @ForAll("names") String node) {
        assertCode(EnumSet.of(Code.OK, Code.ABORTED, Code.INVALID_ARGUMENT),
                () -> csi.controller().listVolumes(ListVolumesRequest.newBuilder().setStartingToken(token)
                        .setMaxEntries((int) max).build()));
        var r = callOrNull(EnumSet.of(Code.INVALID_ARGUMENT), () -> csi.controller().getCapacity(
                GetCapacityRequest.newBuilder().addVolumeCapabilities(cap).putAllParameters(params)
                        .setAccessibleTopology(Topology.newBuilder().putSegments("pmem-csi.dev/node", node)).build()));
        if (r != null) {
            assertTrue(r.getAvailableCapacity() >= 0 && r.getMaximumVolumeSize().getValue() >= 0);
        }
    }

    // ------------------------------------------------------------------ node

    private static final Set<Code> NODE_CODES = EnumSet.of(Code.OK, Code.INVALID_ARGUMENT, Code.NOT_FOUND,
            Code.FAILED_PRECONDITION, Code.ALREADY_EXISTS, Code.RESOURCE_EXHAUSTED, Code.OUT_OF_RANGE);

    @Property(seed = SEED)
    void stageAndUnstage(@ForAll("names") String id, @ForAll("paths") String path,
                         @ForAll("capabilities") VolumeCapability cap) {
        Code c = Csi.codeOf(() -> csi.node().nodeStageVolume(NodeStageVolumeRequest.newBuilder().setVolumeId(id)
                .setStagingTargetPath(path).setVolumeCapability(cap).build()));
        assertTrue(NODE_CODES.contains(c), "stage answered " + c);
        assertCode(EnumSet.of(Code.OK, Code.INVALID_ARGUMENT, Code.FAILED_PRECONDITION, Code.NOT_FOUND),
                () -> csi.node().nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(id)
                        .setStagingTargetPath(path).build()));
        if (c == Code.OK) {
            // Only the driver's own volume can be staged, at a path inside the kubelet trees.
            assertEquals(victim.getVolumeId(), id);
            assertTrue(Path.of(path).startsWith(ws.plugins()) || Path.of(path).startsWith(ws.pods()), path);
        }
    }

    @Property(seed = SEED)
    void publishAndUnpublish(@ForAll("names") String id, @ForAll("paths") String target,
                             @ForAll("capabilities") VolumeCapability cap, @ForAll boolean ephemeral,
                             @ForAll("parameters") Map<String, String> context, @ForAll boolean readOnly) throws Exception {
        boolean staged = id.equals(victim.getVolumeId()) && Csi.codeOf(
                () -> csi.stage(victim.getVolumeId(), victimStaging, Csi.mount())) == Code.OK;
        NodePublishVolumeRequest.Builder req = NodePublishVolumeRequest.newBuilder().setVolumeId(id)
                .setTargetPath(target).setVolumeCapability(cap).setReadonly(readOnly)
                .setStagingTargetPath(staged ? victimStaging.toString() : ws.plugins().resolve("never-staged").toString()).putAllVolumeContext(context);
        if (ephemeral) {
            req.putVolumeContext("csi.storage.k8s.io/ephemeral", "true");
        }
        Code c = Csi.codeOf(() -> csi.node().nodePublishVolume(req.build()));
        assertTrue(NODE_CODES.contains(c), "publish answered " + c);
        if (c == Code.OK) {
            assertTrue(Path.of(target).startsWith(ws.plugins()) || Path.of(target).startsWith(ws.pods()), target);
        }
        assertCode(EnumSet.of(Code.OK, Code.INVALID_ARGUMENT, Code.FAILED_PRECONDITION, Code.NOT_FOUND),
                () -> csi.node().nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder().setVolumeId(id)
                        .setTargetPath(target).build()));
        assertCode(EnumSet.of(Code.OK, Code.INVALID_ARGUMENT, Code.NOT_FOUND), () -> csi.node().nodeGetVolumeStats(
                NodeGetVolumeStatsRequest.newBuilder().setVolumeId(id).setVolumePath(target).build()));
        if (staged) {
            csi.unstage(victim.getVolumeId(), victimStaging);
        }
    }
}
