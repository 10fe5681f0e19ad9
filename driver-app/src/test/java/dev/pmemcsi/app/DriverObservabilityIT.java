package dev.pmemcsi.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pmemcsi.app.client.Channels;
import dev.pmemcsi.app.observability.MetricsDoc;
import dev.pmemcsi.app.observability.Scrape;
import dev.pmemcsi.csi.v1.CapacityRange;
import dev.pmemcsi.csi.v1.ControllerGrpc;
import dev.pmemcsi.csi.v1.CreateVolumeRequest;
import dev.pmemcsi.csi.v1.DeleteVolumeRequest;
import dev.pmemcsi.csi.v1.GetPluginInfoRequest;
import dev.pmemcsi.csi.v1.IdentityGrpc;
import dev.pmemcsi.csi.v1.ListVolumesRequest;
import dev.pmemcsi.csi.v1.NodeGrpc;
import dev.pmemcsi.csi.v1.NodeStageVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnstageVolumeRequest;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.pmemnative.loop.LoopDevice;
import dev.pmemcsi.pmemnative.loop.LoopDevices;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The packaged driver as a process on the emulated backend, with JSON logs at trace level: its
 * health endpoints, every documented series in a real scrape, values that follow a volume through
 * create, stage, injected faults, unstage and delete, log lines that parse, and secrets that never
 * reach the log. Needs root (loop devices, mkfs, mount).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DriverObservabilityIT {

    private static final String NODE = "obs-it-node";
    private static final String NAME = "obs-it-vol";
    /** Unique per run, so that finding it in the log can only mean this run leaked it. */
    private static final String SECRET = "s3cr3t-" + UUID.randomUUID();
    private static final Map<String, String> SECRETS = Map.of("csi.storage.k8s.io/token", SECRET, "password", SECRET + "-pw");
    /** Families the JVM's GC binder adds only after a collection; docs/metrics.md names them in prose. */
    private static final Predicate<String> LATE_JVM_SERIES = n -> n.startsWith("jvm_gc_pause_seconds")
            || n.startsWith("jvm_gc_concurrent_phase_time_seconds");
    private static final ObjectMapper JSON = new ObjectMapper();

    private static Path work;
    private static Path log;
    private static Process driver;
    private static Channels channels;
    private static int port;
    private static String volumeId;
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @BeforeAll
    static void startDriver() throws Exception {
        work = Files.createTempDirectory("pmem-csi-obs-it", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        log = work.resolve("driver.log");
        // Socket, state and kubelet tree apart: the driver never stages inside its own directories.
        Files.createDirectories(work.resolve("kubelet/plugins"));
        Path jar = Path.of("target", "pmem-csi-driver.jar").toAbsolutePath();
        assertTrue(Files.exists(jar), jar + " is built in the package phase, before integration tests");
        driver = new ProcessBuilder(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar", jar.toString(),
                "--device-manager", "emulated", "--emulated-regions", "256Mi,256Mi",
                "--state-dir", work.resolve("state").toString(),
                "--kubelet-dir", work.resolve("kubelet").toString(),
                "--endpoint", "unix://" + work.resolve("sock/csi.sock"),
                "--node-id", NODE,
                "--metrics-address", "127.0.0.1:0",
                "--log-format", "json", "--log-level", "trace"))
                .redirectOutput(work.resolve("driver.out").toFile())
                .redirectError(log.toFile())
                .start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        Pattern portLine = Pattern.compile("\"msg\":\"metrics and health on [^\"]* \\(port (\\d+)\\)\"");
        while (port == 0) {
            assertTrue(driver.isAlive(), "driver exited: " + Files.readString(log));
            assertTrue(System.nanoTime() < deadline, "no metrics port in the log: " + Files.readString(log));
            Matcher m = portLine.matcher(Files.readString(log));
            if (m.find()) {
                port = Integer.parseInt(m.group(1));
            } else {
                Thread.sleep(100);
            }
        }
        while (get("/readyz").statusCode() != 200) {
            assertTrue(System.nanoTime() < deadline, "not ready: " + get("/readyz").body());
            Thread.sleep(100);
        }
        channels = Channels.open("unix://" + work.resolve("sock/csi.sock"));
    }

    @AfterAll
    static void stopDriverAndCheckNothingIsLeft() throws Exception {
        List<String> problems = new ArrayList<>();
        try {
            if (channels != null && driver.isAlive()) {
                for (var e : ControllerGrpc.newBlockingStub(channels.channel()).listVolumes(ListVolumesRequest.getDefaultInstance()).getEntriesList()) {
                    String id = e.getVolume().getVolumeId();
                    problems.add("volume left: " + id);
                    NodeGrpc.newBlockingStub(channels.channel()).nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder()
                            .setVolumeId(id).setStagingTargetPath(work.resolve("kubelet/plugins/staging").toString()).build());
                    ControllerGrpc.newBlockingStub(channels.channel()).deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(id).build());
                }
            }
        } finally {
            if (channels != null) {
                channels.close();
            }
            if (driver != null) {
                driver.destroy(); // SIGTERM: the driver drains, and the JVM exits 128 + 15 once its hooks ran
                if (!driver.waitFor(60, TimeUnit.SECONDS)) {
                    driver.destroyForcibly().waitFor();
                    problems.add("the driver did not stop on SIGTERM");
                } else if (driver.exitValue() != 0 && driver.exitValue() != 143) {
                    problems.add("the driver exited " + driver.exitValue() + " on SIGTERM");
                } else if (!Files.readString(log).contains("stopped serving on unix://")) {
                    problems.add("the driver did not drain on SIGTERM");
                }
            }
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                String[] f = line.split(" ");
                if (f[4].startsWith(work.toString())) {
                    problems.add("mount left: " + f[4]);
                    new ProcessBuilder(List.of("umount", f[4])).inheritIO().start().waitFor();
                }
            }
            LoopDevices loops = new LoopDevices();
            for (LoopDevice l : loops.list()) {
                if (l.backingFile().startsWith(work.toString())) {
                    problems.add("loop device left: " + l);
                    loops.detach(l, Duration.ofSeconds(10));
                }
            }
            try (Stream<Path> files = Files.walk(work)) {
                files.sorted((a, b) -> b.compareTo(a)).forEach(f -> f.toFile().delete());
            }
        }
        assertEquals(List.of(), problems);
    }

    private static HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static Scrape scrape() throws Exception {
        HttpResponse<String> r = get("/metrics");
        assertEquals(200, r.statusCode());
        return Scrape.parse(r.body());
    }

    /** Scrapes until {@code done} holds: the driver shares one backend reading between scrapes for two seconds. */
    private static Scrape scrapeUntil(String what, Predicate<Scrape> done) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        Scrape s = scrape();
        while (!done.test(s)) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting for " + what);
            Thread.sleep(200);
            s = scrape();
        }
        return s;
    }

    private static double sum(Scrape s, String name) {
        return s.all(name).stream().mapToDouble(Scrape.Sample::value).sum();
    }

    private static double count(Scrape s, String operation) {
        return s.require("pmem_device_operations_seconds_count", "operation", operation, "outcome", "success");
    }

    private static VolumeCapability ext4() {
        return VolumeCapability.newBuilder()
                .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER))
                .setMount(VolumeCapability.MountVolume.newBuilder().setFsType("ext4"))
                .build();
    }

    private static Path faultFile(String volumeId, String kind) {
        return work.resolve("state").resolve("emulated").resolve("faults").resolve(volumeId + "." + kind);
    }

    @Test
    @Order(1)
    void healthEndpointsAnswerOverHttp() throws Exception {
        HttpResponse<String> live = get("/healthz");
        assertEquals(200, live.statusCode());
        assertEquals("ok\n", live.body());
        HttpResponse<String> ready = get("/readyz");
        assertEquals(200, ready.statusCode());
        assertEquals("ok\n", ready.body());
        assertEquals("pmem-csi.dev", IdentityGrpc.newBlockingStub(channels.channel())
                .getPluginInfo(GetPluginInfoRequest.getDefaultInstance()).getName());
    }

    @Test
    @Order(2)
    void seriesFollowAVolumeThroughItsLife() throws Exception {
        var controller = ControllerGrpc.newBlockingStub(channels.channel());
        var node = NodeGrpc.newBlockingStub(channels.channel());
        Scrape before = scrape();
        double total = before.require("pmem_amount_total", "node", NODE, "driver_name", "pmem-csi.dev");
        assertEquals(512L << 20, total);
        assertEquals(total, before.require("pmem_amount_managed", "node", NODE, "driver_name", "pmem-csi.dev"));
        assertEquals(1.0, before.require("pmem_amount_available") / before.require("pmem_amount_managed"),
                "the documented free share is 1 on an empty node");
        assertEquals(0, sum(before, "pmem_region_used_bytes"));
        assertEquals(1, before.require("build_info", "backend", "emulated", "driver", "pmem-csi.dev", "node", NODE));

        StatusRuntimeException invalid = assertThrows(StatusRuntimeException.class, () -> controller.createVolume(
                CreateVolumeRequest.newBuilder().setName(NAME + "-bad").putParameters("usage", "Sideways")
                        .addVolumeCapabilities(ext4()).putAllSecrets(SECRETS).build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, invalid.getStatus().getCode());

        String id = volumeId = controller.createVolume(CreateVolumeRequest.newBuilder().setName(NAME)
                .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(64L << 20))
                .addVolumeCapabilities(ext4()).putAllSecrets(SECRETS).build()).getVolume().getVolumeId();
        Scrape created = scrapeUntil("capacity to show the new volume", s -> sum(s, "pmem_region_used_bytes") > 0);
        double used = sum(created, "pmem_region_used_bytes");
        assertTrue(used >= 64L << 20, "used " + used);
        assertEquals(total - used, created.require("pmem_amount_available"));
        assertEquals(total, created.require("pmem_amount_managed"));
        assertEquals(1, created.require("pmem_volumes", "mode", "fsdax", "state", "idle", "node", NODE));
        assertEquals(0, created.require("pmem_volume_bad_blocks", "volume", id));
        assertEquals(count(before, "create") + 1, count(created, "create"));
        assertEquals(1, created.require("csi_plugin_operations_seconds_count", "driver_name", "pmem-csi.dev",
                "method_name", "/csi.v1.Controller/CreateVolume", "grpc_status_code", "OK"));
        assertEquals(1, created.require("csi_plugin_operations_seconds_count", "method_name", "/csi.v1.Controller/CreateVolume",
                "grpc_status_code", "InvalidArgument"));
        assertEverySeriesIsDocumentedAndExported(created);

        Path staging = work.resolve("kubelet/plugins/staging");
        node.nodeStageVolume(NodeStageVolumeRequest.newBuilder().setVolumeId(id).setStagingTargetPath(staging.toString())
                .setVolumeCapability(ext4()).putAllSecrets(SECRETS).build());
        Scrape staged = scrapeUntil("the volume to count as in use",
                s -> s.require("pmem_volumes", "mode", "fsdax", "state", "in_use") == 1);
        assertEquals(count(created, "mkfs") + 1, count(staged, "mkfs"));
        assertEquals(count(created, "mount") + 1, count(staged, "mount"));

        Files.writeString(faultFile(id, "badblocks"), "24\n");
        Scrape bad = scrapeUntil("injected bad blocks", s -> s.require("pmem_volume_bad_blocks", "volume", id) == 24);
        String region = bad.all("pmem_volume_bad_blocks").get(0).labels().get("region");
        assertEquals(24, bad.require("pmem_region_bad_blocks", "region", region));
        assertEquals(1, bad.require("pmem_volumes", "mode", "fsdax", "state", "abnormal"));
        Files.delete(faultFile(id, "badblocks"));
        scrapeUntil("the bad blocks to go", s -> s.require("pmem_region_bad_blocks", "region", region) == 0
                && s.require("pmem_volumes", "mode", "fsdax", "state", "in_use") == 1);

        Files.writeString(faultFile(id, "gone"), "");
        scrapeUntil("a vanished device to count as abnormal", s -> s.require("pmem_volumes", "mode", "fsdax", "state", "abnormal") == 1);
        Files.delete(faultFile(id, "gone"));

        node.nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(id).setStagingTargetPath(staging.toString()).build());
        controller.deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(id).putAllSecrets(SECRETS).build());
        Scrape deleted = scrapeUntil("capacity to be free again", s -> sum(s, "pmem_region_used_bytes") == 0);
        assertEquals(total, deleted.require("pmem_amount_available"));
        assertTrue(deleted.value("pmem_volume_bad_blocks", "volume", id).isEmpty());
        assertEquals(0, sum(deleted, "pmem_volumes"));
        assertEquals(count(staged, "delete") + 1, count(deleted, "delete"));
        assertEquals(count(staged, "erase") + 1, count(deleted, "erase"));
        assertEquals(1, deleted.require("csi_plugin_operations_seconds_count", "method_name", "/csi.v1.Controller/DeleteVolume",
                "grpc_status_code", "OK"));
        assertEquals(0, deleted.require("csi_plugin_operations_in_flight"));
    }

    /** Every documented series is in the scrape with the documented labels, and every series in it is documented. */
    private static void assertEverySeriesIsDocumentedAndExported(Scrape s) {
        MetricsDoc doc = MetricsDoc.read();
        List<String> missing = new ArrayList<>();
        for (MetricsDoc.Series d : doc.series().values()) {
            if (d.name().startsWith("pmem_dimm_")) {
                continue; // emulated PMEM has no DIMMs; RecordedNdctlHealthTest checks these
            }
            for (String sample : d.sampleNames()) {
                if (!s.names().contains(sample)) {
                    missing.add(sample);
                } else {
                    assertEquals(d.labels(), s.labelNames(sample), "labels of " + sample);
                }
            }
        }
        assertEquals(List.of(), missing, "documented but not exported");
        Set<String> undocumented = new TreeSet<>();
        for (String name : s.names()) {
            if (doc.resolve(name) == null && !LATE_JVM_SERIES.test(name)) {
                undocumented.add(name);
            }
        }
        assertEquals(Set.of(), undocumented, "exported but not in docs/metrics.md");
    }

    @Test
    @Order(3)
    void everyLogLineIsOneJsonObjectAndCallsCarryTheirFields() throws Exception {
        List<JsonNode> lines = new ArrayList<>();
        for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) {
            JsonNode n = JSON.readTree(line);
            assertTrue(n.isObject(), line);
            List<String> keys = new ArrayList<>();
            n.fieldNames().forEachRemaining(keys::add);
            // The Kubernetes JSON log schema: ts, msg, then v (or err for errors), then key/value pairs.
            assertEquals(List.of("ts", "msg"), keys.subList(0, 2), line);
            assertTrue(n.get("ts").isNumber(), line);
            assertTrue(n.has("v") || n.path("severity").asText().equals("error"), "v missing in " + line);
            assertNotNull(n.get("logger"), "logger missing in " + line);
            lines.add(n);
        }
        assertTrue(lines.size() > 20, "only " + lines.size() + " lines");
        JsonNode created = lines.stream().filter(n -> n.get("logger").asText().equals("dev.pmemcsi.rpc")
                && n.get("msg").asText().equals("CreateVolume OK")).findFirst().orElseThrow();
        assertEquals(0, created.get("v").asInt());
        assertEquals("CreateVolume", created.get("method").asText());
        assertEquals(NAME, created.get("volumeID").asText());
        assertEquals("OK", created.get("code").asText());
        assertTrue(created.get("durationMs").isNumber(), created.toString());
        JsonNode refused = lines.stream().filter(n -> n.get("logger").asText().equals("dev.pmemcsi.rpc")
                && n.path("code").asText().equals("INVALID_ARGUMENT")).findFirst().orElseThrow();
        assertEquals("warning", refused.get("severity").asText());
        assertEquals(NAME + "-bad", refused.get("volumeID").asText());
        assertTrue(lines.stream().anyMatch(n -> n.path("v").asInt(-1) == 4), "--log-level trace shows debug lines");
        assertTrue(lines.stream().anyMatch(n -> n.get("msg").asText().startsWith("made ext4 on ")), "mkfs reports its duration");
        assertNotNull(volumeId, "the volume test ran first");
        assertTrue(lines.stream().anyMatch(n -> n.get("msg").asText().contains(": erased ")
                && n.path("volumeID").asText().equals(volumeId) && n.path("method").asText().equals("DeleteVolume")),
                "erase reports with the volume and the call");
    }

    @Test
    @Order(4)
    void secretsNeverReachTheLogEvenAtTrace() throws Exception {
        // Small enough that the secret falls within the first 64 bytes of the HTTP/2 DATA frame,
        // which gRPC's frame logger would dump in hex at debug.
        ControllerGrpc.newBlockingStub(channels.channel()).deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId("x")
                .putSecrets("k", SECRET).build());
        // The call's own closing line comes after everything the call logged: once it is in the
        // file, so is whatever might carry the secret.
        awaitLogLine("the DeleteVolume of x", n -> n.get("logger").asText().equals("dev.pmemcsi.rpc")
                && n.path("method").asText().equals("DeleteVolume") && n.path("volumeID").asText().equals("x"));
        String text = Files.readString(log, StandardCharsets.UTF_8) + Files.readString(work.resolve("driver.out"));
        for (String secret : List.of(SECRET, SECRET + "-pw")) {
            byte[] bytes = secret.getBytes(StandardCharsets.UTF_8);
            for (String form : List.of(secret, HexFormat.of().formatHex(bytes), Base64.getEncoder().encodeToString(bytes))) {
                assertFalse(text.contains(form), "the log contains a secret as " + form);
            }
            // A suffix long enough to be unique, in case an encoding split it differently.
            assertFalse(text.contains(secret.substring(7, 25)), "the log contains part of a secret");
        }
        assertFalse(text.contains("csi.storage.k8s.io/token"), "secret keys do not appear either");
    }
    /** Waits until the driver's JSON log has a line that {@code wanted} accepts. */
    private static void awaitLogLine(String what, Predicate<JsonNode> wanted) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) {
                JsonNode n;
                try {
                    n = JSON.readTree(line);
                } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                    continue; // the line being written
                }
                if (n != null && n.isObject() && wanted.test(n)) {
                    return;
                }
            }
            assertTrue(System.nanoTime() < deadline, "timed out waiting for the log line of " + what);
            Thread.sleep(50);
        }
    }
}
