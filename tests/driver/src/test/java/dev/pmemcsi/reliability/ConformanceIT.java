package dev.pmemcsi.reliability;

import static dev.pmemcsi.reliability.Csi.MIB;
import static dev.pmemcsi.reliability.Csi.codeOf;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.protobuf.Int64Value;
import dev.pmemcsi.csi.v1.CapacityRange;
import dev.pmemcsi.csi.v1.ControllerExpandVolumeRequest;
import dev.pmemcsi.csi.v1.ControllerGetCapabilitiesRequest;
import dev.pmemcsi.csi.v1.ControllerGetVolumeRequest;
import dev.pmemcsi.csi.v1.ControllerGetVolumeResponse;
import dev.pmemcsi.csi.v1.ControllerModifyVolumeRequest;
import dev.pmemcsi.csi.v1.ControllerPublishVolumeRequest;
import dev.pmemcsi.csi.v1.ControllerServiceCapability;
import dev.pmemcsi.csi.v1.ControllerUnpublishVolumeRequest;
import dev.pmemcsi.csi.v1.CreateSnapshotRequest;
import dev.pmemcsi.csi.v1.CreateVolumeRequest;
import dev.pmemcsi.csi.v1.DeleteSnapshotRequest;
import dev.pmemcsi.csi.v1.DeleteVolumeRequest;
import dev.pmemcsi.csi.v1.GetCapacityRequest;
import dev.pmemcsi.csi.v1.GetCapacityResponse;
import dev.pmemcsi.csi.v1.GetPluginCapabilitiesRequest;
import dev.pmemcsi.csi.v1.GetPluginInfoRequest;
import dev.pmemcsi.csi.v1.GetPluginInfoResponse;
import dev.pmemcsi.csi.v1.GetSnapshotRequest;
import dev.pmemcsi.csi.v1.ListSnapshotsRequest;
import dev.pmemcsi.csi.v1.ListVolumesRequest;
import dev.pmemcsi.csi.v1.ListVolumesResponse;
import dev.pmemcsi.csi.v1.NodeExpandVolumeRequest;
import dev.pmemcsi.csi.v1.NodeGetCapabilitiesRequest;
import dev.pmemcsi.csi.v1.NodeGetInfoRequest;
import dev.pmemcsi.csi.v1.NodeGetInfoResponse;
import dev.pmemcsi.csi.v1.NodeGetVolumeStatsRequest;
import dev.pmemcsi.csi.v1.NodeGetVolumeStatsResponse;
import dev.pmemcsi.csi.v1.NodePublishVolumeRequest;
import dev.pmemcsi.csi.v1.NodeServiceCapability;
import dev.pmemcsi.csi.v1.NodeStageVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnpublishVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnstageVolumeRequest;
import dev.pmemcsi.csi.v1.PluginCapability;
import dev.pmemcsi.csi.v1.ProbeRequest;
import dev.pmemcsi.csi.v1.Topology;
import dev.pmemcsi.csi.v1.TopologyRequirement;
import dev.pmemcsi.csi.v1.ValidateVolumeCapabilitiesRequest;
import dev.pmemcsi.csi.v1.ValidateVolumeCapabilitiesResponse;
import dev.pmemcsi.csi.v1.Volume;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.csi.v1.VolumeCapability.AccessMode.Mode;
import dev.pmemcsi.csi.v1.VolumeContentSource;
import dev.pmemcsi.csi.v1.VolumeUsage;
import dev.pmemcsi.pmemnative.mount.FileAttributes;
import io.grpc.Status.Code;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The CSI spec (v1.12), RPC by RPC, against the built driver over its Unix socket: each MUST the
 * spec states for an RPC this driver implements, and each error code of the RPC's error table that
 * the driver can meet. One driver process serves the whole class; every test cleans up after
 * itself, and the class ends by proving that nothing is left (no volume, mount or loop device,
 * on ndctl no namespace, all capacity back).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ConformanceIT {

    private static final String TOPOLOGY_KEY = "pmem-csi.dev/node";
    private static final long SIZE = 64 * MIB;

    private Workspace ws;
    private DriverProcess driver;
    private Csi csi;
    private long initialAvailable;

    @BeforeAll
    void start() throws Exception {
        ws = new Workspace("conformance");
        driver = DriverProcess.start(ws);
        csi = driver.csi();
        initialAvailable = csi.available();
    }

    @AfterAll
    void stop() throws Exception {
        boolean stopped = false;
        try {
            assertEquals(List.of(), csi.listAll(), "volumes left by the suite");
            assertEquals(initialAvailable, csi.available(), "capacity is back where it started");
            stopped = true;
            int rc = driver.stop();
            assertTrue(rc == 0 || rc == 143, "the driver ends on SIGTERM, exit code " + rc);
            assertFalse(Files.exists(ws.socketDir().resolve("csi.sock")), "and removes its socket");
            ws.assertNothingHeld();
        } finally {
            // A failed check above must not leave the driver running after the suite.
            if (!stopped) {
                driver.close();
            }
            ws.close();
        }
    }

    /** Every test ends with nothing mounted under the workspace. */
    @AfterEach
    void nothingMounted() {
        assertEquals(List.of(), ws.driverMounts());
    }

    private static CreateVolumeRequest.Builder create(String name) {
        return CreateVolumeRequest.newBuilder().setName(name)
                .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(SIZE))
                .addVolumeCapabilities(Csi.mount());
    }

    private static Topology topology(String node) {
        return Topology.newBuilder().putSegments(TOPOLOGY_KEY, node).build();
    }

    /**
     * How the driver grows volumes, as the VolumeExpansion plugin capability says: ONLINE (emulated,
     * lvm: also while published), OFFLINE (direct mode: only while neither staged nor published),
     * or empty when the backend grows none.
     */
    private Optional<PluginCapability.VolumeExpansion.Type> expansionType() {
        List<PluginCapability.VolumeExpansion.Type> types = csi.identity()
                .getPluginCapabilities(GetPluginCapabilitiesRequest.getDefaultInstance()).getCapabilitiesList()
                .stream().filter(PluginCapability::hasVolumeExpansion).map(c -> c.getVolumeExpansion().getType())
                .toList();
        assertTrue(types.size() <= 1, "one VolumeExpansion capability at most: " + types);
        return types.stream().findFirst();
    }

    private boolean expansionOffered() {
        return expansionType().isPresent();
    }

    /** Volumes grow only while unused: ControllerExpandVolume of a published one is FAILED_PRECONDITION. */
    private boolean offlineOnly() {
        return expansionType().equals(Optional.of(PluginCapability.VolumeExpansion.Type.OFFLINE));
    }

    /** The advertised capabilities apart from {@code optional}, which depends on the backend. */
    private static <T> Set<T> without(Set<T> types, T optional) {
        Set<T> rest = new HashSet<>(types);
        rest.remove(optional);
        return rest;
    }

    // ================================================================= Identity

    @Nested
    class Identity {

        @Test
        void pluginInfoNameFollowsDomainNotationAndVersionIsSet() {
            GetPluginInfoResponse r = csi.identity().getPluginInfo(GetPluginInfoRequest.getDefaultInstance());
            assertTrue(r.getName().length() <= 63, "name is at most 63 characters");
            assertTrue(Pattern.matches("[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?", r.getName()), r.getName());
            assertEquals("pmem-csi.dev", r.getName());
            assertFalse(r.getVendorVersion().isEmpty(), "vendor_version is REQUIRED");
        }

        @Test
        void capabilitiesNameTheControllerAndTopology() {
            Set<PluginCapability.Service.Type> types = new HashSet<>();
            csi.identity().getPluginCapabilities(GetPluginCapabilitiesRequest.getDefaultInstance())
                    .getCapabilitiesList().stream().filter(PluginCapability::hasService)
                    .forEach(c -> types.add(c.getService().getType()));
            assertEquals(Set.of(PluginCapability.Service.Type.CONTROLLER_SERVICE,
                    PluginCapability.Service.Type.VOLUME_ACCESSIBILITY_CONSTRAINTS), types);
        }

        @Test
        void expansionIsOfferedEverywhereOrNowhere() {
            boolean controller = csi.controller().controllerGetCapabilities(
                            ControllerGetCapabilitiesRequest.getDefaultInstance()).getCapabilitiesList().stream()
                    .anyMatch(c -> c.getRpc().getType() == ControllerServiceCapability.RPC.Type.EXPAND_VOLUME);
            boolean node = csi.node().nodeGetCapabilities(NodeGetCapabilitiesRequest.getDefaultInstance())
                    .getCapabilitiesList().stream()
                    .anyMatch(c -> c.getRpc().getType() == NodeServiceCapability.RPC.Type.EXPAND_VOLUME);
            assertEquals(expansionOffered(), controller, "controller EXPAND_VOLUME");
            assertEquals(expansionOffered(), node, "node EXPAND_VOLUME");
        }

        @Test
        void probeIsReady() {
            assertTrue(csi.identity().probe(ProbeRequest.getDefaultInstance()).getReady().getValue());
        }
    }

    // ================================================================= Controller

    @Nested
    class ControllerCapabilities {

        @Test
        void advertisedRpcsAreImplementedAndTheOthersAreUnimplemented() {
            Set<ControllerServiceCapability.RPC.Type> types = new HashSet<>();
            csi.controller().controllerGetCapabilities(ControllerGetCapabilitiesRequest.getDefaultInstance())
                    .getCapabilitiesList().forEach(c -> types.add(c.getRpc().getType()));
            assertEquals(Set.of(ControllerServiceCapability.RPC.Type.CREATE_DELETE_VOLUME,
                    ControllerServiceCapability.RPC.Type.LIST_VOLUMES,
                    ControllerServiceCapability.RPC.Type.GET_CAPACITY,
                    ControllerServiceCapability.RPC.Type.GET_VOLUME,
                    ControllerServiceCapability.RPC.Type.VOLUME_CONDITION,
                    ControllerServiceCapability.RPC.Type.SINGLE_NODE_MULTI_WRITER,
                    ControllerServiceCapability.RPC.Type.CREATE_DELETE_SNAPSHOT,
                    ControllerServiceCapability.RPC.Type.LIST_SNAPSHOTS,
                    ControllerServiceCapability.RPC.Type.CLONE_VOLUME), without(types,
                    ControllerServiceCapability.RPC.Type.EXPAND_VOLUME));
            var c = csi.controller();
            assertEquals(Code.UNIMPLEMENTED, codeOf(() -> c.controllerPublishVolume(
                    ControllerPublishVolumeRequest.newBuilder().setVolumeId("x").setNodeId("n").build())));
            assertEquals(Code.UNIMPLEMENTED, codeOf(() -> c.controllerUnpublishVolume(
                    ControllerUnpublishVolumeRequest.newBuilder().setVolumeId("x").build())));
            assertEquals(Code.UNIMPLEMENTED, codeOf(() -> c.getSnapshot(
                    GetSnapshotRequest.newBuilder().setSnapshotId("s").build())));
            if (!expansionOffered()) {
                assertEquals(Code.UNIMPLEMENTED, codeOf(() -> c.controllerExpandVolume(
                        ControllerExpandVolumeRequest.newBuilder().setVolumeId("x").build())));
            }
            assertEquals(Code.UNIMPLEMENTED, codeOf(() -> c.controllerModifyVolume(
                    ControllerModifyVolumeRequest.newBuilder().setVolumeId("x").build())));
        }
    }

    @Nested
    class Snapshots {

        private String volumeWithFilesystem(String name) throws Exception {
            String id = csi.controller().createVolume(create(name).build()).getVolume().getVolumeId();
            Path staging = ws.newStagingPath();
            csi.stage(id, staging, Csi.mount());
            csi.unstage(id, staging);
            return id;
        }

        private dev.pmemcsi.csi.v1.Snapshot snapshot(String name, String source) {
            return csi.controller().createSnapshot(CreateSnapshotRequest.newBuilder().setName(name)
                    .setSourceVolumeId(source).build()).getSnapshot();
        }

        private void deleteSnapshot(String id) {
            csi.controller().deleteSnapshot(DeleteSnapshotRequest.newBuilder().setSnapshotId(id).build());
        }

        private dev.pmemcsi.csi.v1.VolumeContentSource fromSnapshot(String id) {
            return dev.pmemcsi.csi.v1.VolumeContentSource.newBuilder().setSnapshot(
                    dev.pmemcsi.csi.v1.VolumeContentSource.SnapshotSource.newBuilder().setSnapshotId(id)).build();
        }

        @Test
        void createSnapshotCodes() throws Exception {
            var c = csi.controller();
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> c.createSnapshot(
                    CreateSnapshotRequest.newBuilder().setSourceVolumeId("x").build())));
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> c.createSnapshot(
                    CreateSnapshotRequest.newBuilder().setName("s").build())));
            assertEquals(Code.NOT_FOUND, codeOf(() -> snapshot("s-unknown", "pvc-" + "0".repeat(56))));
            String a = volumeWithFilesystem("snap-src-a");
            String b = volumeWithFilesystem("snap-src-b");
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> c.createSnapshot(CreateSnapshotRequest.newBuilder()
                    .setName("s-params").setSourceVolumeId(a).putParameters("unknown", "1").build())));
            var first = snapshot("s-a", a);
            assertTrue(first.getReadyToUse());
            assertEquals(a, first.getSourceVolumeId());
            assertTrue(first.getSizeBytes() >= SIZE);
            assertTrue(first.hasCreationTime());
            assertEquals(first, snapshot("s-a", a), "the same name and source answer the same snapshot");
            assertEquals(Code.ALREADY_EXISTS, codeOf(() -> snapshot("s-a", b)));
            // A source with snapshots can be deleted; the snapshot stays.
            csi.delete(a);
            assertEquals(1, c.listSnapshots(ListSnapshotsRequest.newBuilder().setSnapshotId(first.getSnapshotId())
                    .build()).getEntriesCount());
            deleteSnapshot(first.getSnapshotId());
            deleteSnapshot(first.getSnapshotId());
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> deleteSnapshot("")));
            deleteSnapshot("not-a-snapshot-of-this-driver");
            csi.delete(b);
        }

        @Test
        void listSnapshotsPagesFiltersAndRefusesForeignTokens() throws Exception {
            var c = csi.controller();
            String a = volumeWithFilesystem("list-snap-a");
            String b = volumeWithFilesystem("list-snap-b");
            List<String> ids = new ArrayList<>(List.of(snapshot("l1", a).getSnapshotId(),
                    snapshot("l2", a).getSnapshotId(), snapshot("l3", b).getSnapshotId()));
            ids.sort(null);
            List<String> seen = new ArrayList<>();
            String token = "";
            do {
                var r = c.listSnapshots(ListSnapshotsRequest.newBuilder().setMaxEntries(1).setStartingToken(token).build());
                assertTrue(r.getEntriesCount() <= 1);
                r.getEntriesList().forEach(e -> seen.add(e.getSnapshot().getSnapshotId()));
                token = r.getNextToken();
            } while (!token.isEmpty());
            assertEquals(seen.stream().distinct().sorted().toList(), seen, "each snapshot once, in order");
            assertEquals(ids, seen.stream().filter(ids::contains).toList(), "every snapshot listed");
            assertEquals(2, c.listSnapshots(ListSnapshotsRequest.newBuilder().setSourceVolumeId(a).build())
                    .getEntriesCount());
            assertEquals(0, c.listSnapshots(ListSnapshotsRequest.newBuilder().setSnapshotId("unknown").build())
                    .getEntriesCount());
            assertEquals(Code.ABORTED, codeOf(() -> c.listSnapshots(
                    ListSnapshotsRequest.newBuilder().setStartingToken("not-a-token").build())));
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> c.listSnapshots(
                    ListSnapshotsRequest.newBuilder().setMaxEntries(-1).build())));
            ids.forEach(this::deleteSnapshot);
            csi.delete(a);
            csi.delete(b);
        }

        @Test
        void restoreAndCloneCodes() throws Exception {
            var c = csi.controller();
            String src = volumeWithFilesystem("restore-src");
            var snap = snapshot("r1", src);
            String here = snap.getSnapshotId();
            String elsewhere = "snap-" + "2".repeat(56) + "-other-node";
            String missing = "snap-" + "0".repeat(56) + here.substring("snap-".length() + 56);
            assertEquals(Code.NOT_FOUND, codeOf(() -> c.createVolume(create("r-missing")
                    .setVolumeContentSource(fromSnapshot(missing)).build())));
            var other = org.junit.jupiter.api.Assertions.assertThrows(io.grpc.StatusRuntimeException.class,
                    () -> c.createVolume(create("r-other").setVolumeContentSource(fromSnapshot(elsewhere)).build()));
            assertEquals(Code.RESOURCE_EXHAUSTED, other.getStatus().getCode(), "Kubernetes reschedules on this");
            assertTrue(other.getStatus().getDescription().contains("other-node"), other.getStatus().getDescription());
            assertEquals(Code.OUT_OF_RANGE, codeOf(() -> c.createVolume(create("r-small")
                    .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(16 * MIB).setLimitBytes(16 * MIB))
                    .setVolumeContentSource(fromSnapshot(here)).build())));
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> c.createVolume(CreateVolumeRequest.newBuilder()
                    .setName("r-xfs").addVolumeCapabilities(Csi.mount("xfs", Mode.SINGLE_NODE_WRITER))
                    .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(600 * MIB))
                    .setVolumeContentSource(fromSnapshot(here)).build())));
            Volume restored = c.createVolume(create("r-ok").setVolumeContentSource(fromSnapshot(here)).build())
                    .getVolume();
            assertEquals(here, restored.getContentSource().getSnapshot().getSnapshotId());
            assertEquals(restored, c.createVolume(create("r-ok").setVolumeContentSource(fromSnapshot(here)).build())
                    .getVolume(), "a repeated restore answers the same volume");
            assertEquals(Code.ALREADY_EXISTS, codeOf(() -> c.createVolume(create("r-ok").build())));
            assertEquals(Code.ALREADY_EXISTS, codeOf(() -> c.createVolume(create(src.substring(0, 0) + "restore-src")
                    .setVolumeContentSource(fromSnapshot(here)).build())), "an existing volume is no copy");
            var clone = dev.pmemcsi.csi.v1.VolumeContentSource.newBuilder().setVolume(
                    dev.pmemcsi.csi.v1.VolumeContentSource.VolumeSource.newBuilder().setVolumeId(src)).build();
            Volume cloned = c.createVolume(create("c-ok").setVolumeContentSource(clone).build()).getVolume();
            assertEquals(src, cloned.getContentSource().getVolume().getVolumeId());
            var unknownClone = dev.pmemcsi.csi.v1.VolumeContentSource.newBuilder().setVolume(
                    dev.pmemcsi.csi.v1.VolumeContentSource.VolumeSource.newBuilder().setVolumeId("pvc-" + "1".repeat(56)))
                    .build();
            assertEquals(Code.NOT_FOUND, codeOf(() -> c.createVolume(create("c-missing")
                    .setVolumeContentSource(unknownClone).build())));
            // What CreateVolume said of a copy's origin, listings say too; an ordinary volume has none.
            var listed = c.listVolumes(dev.pmemcsi.csi.v1.ListVolumesRequest.getDefaultInstance()).getEntriesList()
                    .stream().map(e -> e.getVolume())
                    .collect(java.util.stream.Collectors.toMap(Volume::getVolumeId, v -> v));
            assertEquals(restored.getContentSource(), listed.get(restored.getVolumeId()).getContentSource());
            assertEquals(cloned.getContentSource(), listed.get(cloned.getVolumeId()).getContentSource());
            assertFalse(listed.get(src).hasContentSource(), "the source volume was made empty");
            assertEquals(cloned.getContentSource(), c.controllerGetVolume(dev.pmemcsi.csi.v1.ControllerGetVolumeRequest
                    .newBuilder().setVolumeId(cloned.getVolumeId()).build()).getVolume().getContentSource());
            for (String id : List.of(restored.getVolumeId(), cloned.getVolumeId(), src)) {
                csi.delete(id);
            }
            deleteSnapshot(here);
        }

        /**
         * The round trip a user makes: data written through a published path, a snapshot taken while
         * the volume is in use (so the filesystem is frozen for the copy), then a restore into a larger
         * volume and a clone, each published and read back. On real PMEM (the ndctl and lvm backends
         * in the QEMU guest) the copies must still be DAX: the restored filesystem is mounted with
         * {@code -o dax} and its files carry the DAX attribute.
         */
        @Test
        void restoredAndClonedVolumesHoldTheDataAndKeepDax() throws Exception {
            byte[] data = new byte[(int) MIB];
            new java.util.Random(19).nextBytes(data);
            String src = csi.controller().createVolume(create("dax-src").build()).getVolume().getVolumeId();
            Path staging = ws.newStagingPath();
            Path target = ws.newTargetPath();
            csi.stage(src, staging, Csi.mount());
            csi.publish(src, staging, target, Csi.mount());
            Files.write(target.resolve("data"), data);
            var snap = snapshot("dax-snap", src);
            assertTrue(snap.getReadyToUse(), "the image is durable when the call returns");
            Volume restored = csi.controller().createVolume(create("dax-restored").setCapacityRange(
                    CapacityRange.newBuilder().setRequiredBytes(2 * SIZE)).setVolumeContentSource(
                    fromSnapshot(snap.getSnapshotId())).build()).getVolume();
            csi.unpublish(src, target);
            csi.unstage(src, staging);
            var clone = VolumeContentSource.newBuilder().setVolume(
                    VolumeContentSource.VolumeSource.newBuilder().setVolumeId(src)).build();
            Volume cloned = csi.controller().createVolume(create("dax-clone").setVolumeContentSource(clone).build())
                    .getVolume();
            for (Volume copy : List.of(restored, cloned)) {
                Path copyStaging = ws.newStagingPath();
                Path copyTarget = ws.newTargetPath();
                csi.stage(copy.getVolumeId(), copyStaging, Csi.mount());
                csi.publish(copy.getVolumeId(), copyStaging, copyTarget, Csi.mount());
                try {
                    Path file = copyTarget.resolve("data");
                    assertArrayEquals(data, Files.readAllBytes(file), copy.getVolumeId() + " holds the source's data");
                    // ext4 keeps about 5% for itself; a restore into a larger volume grows the filesystem.
                    long fsBytes = Files.getFileStore(copyTarget).getTotalSpace();
                    assertTrue(fsBytes > copy.getCapacityBytes() * 8 / 10,
                            copy.getVolumeId() + ": filesystem of " + fsBytes + " bytes on " + copy.getCapacityBytes());
                    if (BackendKind.current() != BackendKind.EMULATED) {
                        assertEquals(Optional.of(true), FileAttributes.of(file).dax(),
                                copy.getVolumeId() + ": the copy's files are DAX");
                    }
                } finally {
                    csi.unpublish(copy.getVolumeId(), copyTarget);
                    csi.unstage(copy.getVolumeId(), copyStaging);
                }
            }
            for (String id : List.of(restored.getVolumeId(), cloned.getVolumeId(), src)) {
                csi.delete(id);
            }
            deleteSnapshot(snap.getSnapshotId());
        }
    }

    @Nested
    class CreateVolume {

        @Test
        void missingNameOrCapabilitiesIsInvalidArgument() {
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> csi.controller().createVolume(create("").build())));
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> csi.controller().createVolume(
                    create("conf-no-caps").clearVolumeCapabilities().build())));
        }

        @Test
        void unsupportedCapabilitiesAreInvalidArgument() {
            for (VolumeCapability cap : List.of(
                    Csi.mount("ext4", Mode.MULTI_NODE_MULTI_WRITER),
                    Csi.mount("ext4", Mode.MULTI_NODE_READER_ONLY),
                    Csi.mount("btrfs", Mode.SINGLE_NODE_WRITER),
                    VolumeCapability.newBuilder().setAccessMode(VolumeCapability.AccessMode.newBuilder()
                            .setMode(Mode.SINGLE_NODE_WRITER)).build(),
                    VolumeCapability.newBuilder().setMount(VolumeCapability.MountVolume.getDefaultInstance()).build())) {
                assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> csi.controller().createVolume(
                        create("conf-bad-cap").clearVolumeCapabilities().addVolumeCapabilities(cap).build())), cap.toString());
            }
            assertEquals(List.of(), csi.listAll());
        }

        @Test
        void aContentSourceThatDoesNotExistIsNotFoundAndAnEmptyOneInvalid() {
            assertEquals(Code.NOT_FOUND, codeOf(() -> csi.controller().createVolume(create("conf-clone")
                    .setVolumeContentSource(VolumeContentSource.newBuilder().setVolume(
                            VolumeContentSource.VolumeSource.newBuilder().setVolumeId("other"))).build())));
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> csi.controller().createVolume(create("conf-clone")
                    .setVolumeContentSource(VolumeContentSource.newBuilder().setVolume(
                            VolumeContentSource.VolumeSource.getDefaultInstance())).build())));
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> csi.controller().createVolume(create("conf-clone")
                    .setVolumeContentSource(VolumeContentSource.getDefaultInstance()).build())));
        }

        @Test
        void theResponseCarriesIdSizeAndTopologyAndARepeatIsIdempotent() {
            Volume v = csi.controller().createVolume(create("conf-idem").build()).getVolume();
            try {
                assertFalse(v.getVolumeId().isEmpty());
                assertTrue(v.getCapacityBytes() >= SIZE, "capacity_bytes at least required_bytes");
                assertEquals(List.of(topology(DriverProcess.NODE)), v.getAccessibleTopologyList());
                Volume again = csi.controller().createVolume(create("conf-idem").build()).getVolume();
                assertEquals(v, again, "the same name and parameters give the same volume");
                assertEquals(1, csi.listAll().stream().filter(x -> x.getVolumeId().equals(v.getVolumeId())).count());
            } finally {
                csi.delete(v.getVolumeId());
            }
        }

        @Test
        void limitIsHonoured() {
            long limit = 100 * MIB;
            Volume v = csi.controller().createVolume(create("conf-limit").setCapacityRange(CapacityRange.newBuilder()
                    .setRequiredBytes(40 * MIB).setLimitBytes(limit)).build()).getVolume();
            try {
                assertTrue(v.getCapacityBytes() >= 40 * MIB && v.getCapacityBytes() <= limit, v.toString());
            } finally {
                csi.delete(v.getVolumeId());
            }
            Volume onlyLimit = csi.controller().createVolume(create("conf-only-limit").setCapacityRange(
                    CapacityRange.newBuilder().setLimitBytes(limit)).build()).getVolume();
            try {
                assertTrue(onlyLimit.getCapacityBytes() > 0 && onlyLimit.getCapacityBytes() <= limit);
            } finally {
                csi.delete(onlyLimit.getVolumeId());
            }
        }

        @Test
        void noRangeGivesTheDefaultSize() {
            // Never written, so not erased: zeroing a GiB costs half a minute in the QEMU guest.
            Volume v = csi.controller().createVolume(create("conf-default").clearCapacityRange()
                    .putParameters("eraseafter", "false").build()).getVolume();
            try {
                assertTrue(v.getCapacityBytes() >= 1024 * MIB, "the default usable size is at least 1 GiB");
            } finally {
                csi.delete(v.getVolumeId());
            }
        }

        @Test
        void anIncompatibleRepeatIsAlreadyExists() {
            Volume v = csi.controller().createVolume(create("conf-incompat").build()).getVolume();
            try {
                assertEquals(Code.ALREADY_EXISTS, codeOf(() -> csi.controller().createVolume(create("conf-incompat")
                        .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(v.getCapacityBytes() + 64 * MIB))
                        .build())), "a larger size");
                assertEquals(Code.ALREADY_EXISTS, codeOf(() -> csi.controller().createVolume(create("conf-incompat")
                        .putParameters("usage", "FileIO").build())), "another mode");
                assertEquals(Code.ALREADY_EXISTS, codeOf(() -> csi.controller().createVolume(create("conf-incompat")
                        .putParameters("eraseafter", "false").build())), "another erase setting");
            } finally {
                csi.delete(v.getVolumeId());
            }
        }

        @Test
        void requiredEqualToLimitGivesExactlyThatCapacity() {
            for (long mib : new long[] {16, 64, 100, 256}) {
                // Never written, so not erased on delete: the sizes are the point here.
                CreateVolumeRequest req = create("conf-exact-" + mib).setCapacityRange(CapacityRange.newBuilder()
                        .setRequiredBytes(mib * MIB).setLimitBytes(mib * MIB)).putParameters("eraseafter", "false").build();
                Volume v = csi.controller().createVolume(req).getVolume();
                try {
                    assertEquals(mib * MIB, v.getCapacityBytes());
                    assertEquals(v, csi.controller().createVolume(req).getVolume());
                    assertEquals(mib * MIB, csi.listAll().stream().filter(x -> x.getVolumeId().equals(v.getVolumeId()))
                            .findFirst().orElseThrow().getCapacityBytes());
                } finally {
                    csi.delete(v.getVolumeId());
                }
            }
        }

        @Test
        void aRepeatForAnotherFilesystemOrAccessTypeIsAlreadyExists() {
            Volume v = csi.controller().createVolume(create("conf-fs").build()).getVolume();
            try {
                assertEquals(Code.ALREADY_EXISTS, codeOf(() -> csi.controller().createVolume(create("conf-fs")
                        .clearVolumeCapabilities().addVolumeCapabilities(Csi.mount("xfs", Mode.SINGLE_NODE_WRITER))
                        .build())), "xfs after ext4");
                assertEquals(Code.ALREADY_EXISTS, codeOf(() -> csi.controller().createVolume(create("conf-fs")
                        .clearVolumeCapabilities().addVolumeCapabilities(Csi.block()).build())), "block after ext4");
            } finally {
                csi.delete(v.getVolumeId());
            }
        }

        @Test
        void aLimitBelowTheSmallestVolumeIsOutOfRange() {
            assertEquals(Code.OUT_OF_RANGE, codeOf(() -> csi.controller().createVolume(create("conf-oor")
                    .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(1).setLimitBytes(4096)).build())));
            assertEquals(List.of(), csi.listAll());
        }

        @Test
        void aLimitBelowTheRequiredIsInvalid() {
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> csi.controller().createVolume(create("conf-inverted")
                    .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(SIZE).setLimitBytes(SIZE / 2)).build())));
        }

        @Test
        void moreThanTheNodeHasIsResourceExhausted() {
            long huge = new Backend(ws).largerThanAnyRegion();
            assertEquals(Code.RESOURCE_EXHAUSTED, codeOf(() -> csi.controller().createVolume(create("conf-huge")
                    .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(huge)).build())));
            assertEquals(List.of(), csi.listAll());
        }

        @Test
        void requisiteTopologyOfAnotherNodeIsResourceExhaustedAndOfThisNodeIsServed() {
            assertEquals(Code.RESOURCE_EXHAUSTED, codeOf(() -> csi.controller().createVolume(create("conf-topo")
                    .setAccessibilityRequirements(TopologyRequirement.newBuilder().addRequisite(topology("elsewhere")))
                    .build())));
            Volume v = csi.controller().createVolume(create("conf-topo").setAccessibilityRequirements(
                    TopologyRequirement.newBuilder().addRequisite(topology("elsewhere"))
                            .addRequisite(topology(DriverProcess.NODE)).addPreferred(topology(DriverProcess.NODE)))
                    .build()).getVolume();
            try {
                assertEquals(List.of(topology(DriverProcess.NODE)), v.getAccessibleTopologyList());
            } finally {
                csi.delete(v.getVolumeId());
            }
        }

        @Test
        void unknownParametersAreInvalidButKubernetesKeysAreIgnored() {
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> csi.controller().createVolume(create("conf-param")
                    .putParameters("colour", "blue").build())));
            Volume v = csi.controller().createVolume(create("conf-param")
                    .putParameters("csi.storage.k8s.io/pvc/name", "claim")
                    .putParameters("csi.storage.k8s.io/pvc/namespace", "default").build()).getVolume();
            csi.delete(v.getVolumeId());
        }
    }

    @Nested
    class DeleteVolume {

        @Test
        void missingIdIsInvalidArgument() {
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> csi.controller().deleteVolume(
                    DeleteVolumeRequest.getDefaultInstance())));
        }

        @Test
        void unknownOrForeignIdsAreOk() {
            for (String id : List.of("conf-never-existed", "pmem-" + "0".repeat(56), "../etc", "namespace0.0", "pvc-ü")) {
                assertEquals(Code.OK, codeOf(() -> csi.delete(id)), id);
            }
        }

        @Test
        void deleteIsIdempotentAndReturnsTheSpace() {
            long before = csi.available();
            Volume v = csi.create("conf-del", SIZE);
            assertTrue(csi.available() < before);
            csi.delete(v.getVolumeId());
            csi.delete(v.getVolumeId());
            assertEquals(before, csi.available());
            assertEquals(Code.NOT_FOUND, codeOf(() -> csi.controller().controllerGetVolume(
                    ControllerGetVolumeRequest.newBuilder().setVolumeId(v.getVolumeId()).build())));
        }

        @Test
        void aStagedOrPublishedVolumeIsFailedPrecondition() throws Exception {
            Volume v = csi.create("conf-del-inuse", SIZE);
            Path staging = ws.newStagingPath();
            Path target = ws.newTargetPath();
            csi.stage(v.getVolumeId(), staging, Csi.mount());
            try {
                assertEquals(Code.FAILED_PRECONDITION, codeOf(() -> csi.delete(v.getVolumeId())), "staged");
                csi.publish(v.getVolumeId(), staging, target, Csi.mount());
                assertEquals(Code.FAILED_PRECONDITION, codeOf(() -> csi.delete(v.getVolumeId())), "published");
                csi.unpublish(v.getVolumeId(), target);
            } finally {
                csi.unstage(v.getVolumeId(), staging);
            }
            csi.delete(v.getVolumeId());
        }
    }

    @Nested
    class ValidateVolumeCapabilities {

        @Test
        void missingFieldsAreInvalidArgumentAndUnknownVolumesNotFound() {
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> csi.controller().validateVolumeCapabilities(
                    ValidateVolumeCapabilitiesRequest.newBuilder().addVolumeCapabilities(Csi.mount()).build())));
            assertEquals(Code.NOT_FOUND, codeOf(() -> csi.controller().validateVolumeCapabilities(
                    ValidateVolumeCapabilitiesRequest.newBuilder().setVolumeId("conf-unknown")
                            .addVolumeCapabilities(Csi.mount()).build())));
            Volume v = csi.create("conf-vvc-empty", SIZE);
            try {
                assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> csi.controller().validateVolumeCapabilities(
                        ValidateVolumeCapabilitiesRequest.newBuilder().setVolumeId(v.getVolumeId()).build())));
            } finally {
                csi.delete(v.getVolumeId());
            }
        }

        @Test
        void supportedCapabilitiesAreConfirmedAndUnsupportedOnesAreNot() {
            Volume v = csi.create("conf-vvc", SIZE);
            try {
                ValidateVolumeCapabilitiesResponse ok = csi.controller().validateVolumeCapabilities(
                        ValidateVolumeCapabilitiesRequest.newBuilder().setVolumeId(v.getVolumeId())
                                .addVolumeCapabilities(Csi.mount()).addVolumeCapabilities(Csi.mount("", Mode.SINGLE_NODE_MULTI_WRITER))
                                .putAllVolumeContext(v.getVolumeContextMap()).build());
                assertTrue(ok.hasConfirmed(), ok.getMessage());
                assertEquals(List.of(Csi.mount(), Csi.mount("", Mode.SINGLE_NODE_MULTI_WRITER)),
                        ok.getConfirmed().getVolumeCapabilitiesList());
                ValidateVolumeCapabilitiesResponse raw = csi.controller().validateVolumeCapabilities(
                        ValidateVolumeCapabilitiesRequest.newBuilder().setVolumeId(v.getVolumeId())
                                .addVolumeCapabilities(Csi.block()).build());
                assertFalse(raw.hasConfirmed(), "the volume was created for ext4, not for block access");
                ValidateVolumeCapabilitiesResponse no = csi.controller().validateVolumeCapabilities(
                        ValidateVolumeCapabilitiesRequest.newBuilder().setVolumeId(v.getVolumeId())
                                .addVolumeCapabilities(Csi.mount("ext4", Mode.MULTI_NODE_MULTI_WRITER)).build());
                assertFalse(no.hasConfirmed(), "confirmed stays unset");
                assertFalse(no.getMessage().isEmpty(), "and a message says why");
            } finally {
                csi.delete(v.getVolumeId());
            }
        }
    }

    @Nested
    class ListVolumes {

        @Test
        void pagesCoverEveryVolumeExactlyOnceAndCarryACondition() {
            List<Volume> made = new java.util.ArrayList<>();
            try {
                for (int i = 0; i < 5; i++) {
                    made.add(csi.create("conf-list-" + i, 32 * MIB));
                }
                ListVolumesResponse all = csi.controller().listVolumes(ListVolumesRequest.getDefaultInstance());
                assertEquals(5, all.getEntriesCount(), "max_entries 0 returns everything");
                assertTrue(all.getNextToken().isEmpty());
                all.getEntriesList().forEach(e -> {
                    assertTrue(e.getStatus().hasVolumeCondition(), "VOLUME_CONDITION is advertised");
                    assertFalse(e.getStatus().getVolumeCondition().getAbnormal());
                });
                Set<String> seen = new HashSet<>();
                String token = "";
                int pages = 0;
                do {
                    ListVolumesResponse page = csi.controller().listVolumes(ListVolumesRequest.newBuilder()
                            .setMaxEntries(2).setStartingToken(token).build());
                    assertTrue(page.getEntriesCount() <= 2);
                    page.getEntriesList().forEach(e -> assertTrue(seen.add(e.getVolume().getVolumeId()), "listed twice"));
                    token = page.getNextToken();
                    pages++;
                } while (!token.isEmpty());
                assertEquals(3, pages);
                assertEquals(made.stream().map(Volume::getVolumeId).collect(java.util.stream.Collectors.toSet()), seen);
            } finally {
                made.forEach(v -> csi.delete(v.getVolumeId()));
            }
        }

        @Test
        void aForeignTokenIsAbortedAndNegativeMaxIsInvalid() {
            assertEquals(Code.ABORTED, codeOf(() -> csi.controller().listVolumes(
                    ListVolumesRequest.newBuilder().setStartingToken("not-a-token").build())));
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> csi.controller().listVolumes(
                    ListVolumesRequest.newBuilder().setMaxEntries(-1).build())));
        }
    }

    @Nested
    class GetCapacity {

        @Test
        void capacityFollowsVolumesAndTheLargestVolumeCanBeCreated() {
            GetCapacityResponse before = csi.controller().getCapacity(GetCapacityRequest.newBuilder()
                    .addVolumeCapabilities(Csi.mount()).setAccessibleTopology(topology(DriverProcess.NODE)).build());
            assertTrue(before.getAvailableCapacity() > 0);
            assertTrue(before.hasMaximumVolumeSize());
            assertTrue(before.getMaximumVolumeSize().getValue() <= before.getAvailableCapacity());
            // Nothing is written to it, so it is not erased on delete: zeroing a whole region costs
            // minutes in the QEMU guest, and the erase has tests of its own.
            Volume v = csi.controller().createVolume(create("conf-max").setCapacityRange(CapacityRange.newBuilder()
                    .setRequiredBytes(before.getMaximumVolumeSize().getValue()))
                    .putParameters("eraseafter", "false").build()).getVolume();
            try {
                assertEquals(before.getMaximumVolumeSize().getValue(), v.getCapacityBytes());
                assertTrue(csi.available() < before.getAvailableCapacity());
            } finally {
                csi.delete(v.getVolumeId());
            }
            assertEquals(before.getAvailableCapacity(), csi.available());
        }

        @Test
        void anotherNodesTopologyOrAnUnsupportedCapabilityHasNoCapacity() {
            GetCapacityResponse other = csi.controller().getCapacity(GetCapacityRequest.newBuilder()
                    .setAccessibleTopology(topology("elsewhere")).build());
            assertEquals(0, other.getAvailableCapacity());
            assertEquals(Int64Value.of(0), other.getMaximumVolumeSize());
            assertEquals(0, csi.controller().getCapacity(GetCapacityRequest.newBuilder()
                    .addVolumeCapabilities(Csi.mount("ext4", Mode.MULTI_NODE_MULTI_WRITER)).build()).getAvailableCapacity());
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> csi.controller().getCapacity(
                    GetCapacityRequest.newBuilder().putParameters("usage", "Nonsense").build())));
        }

        @Test
        void sectorCapacityIsNeverMoreThanFsdax() {
            long fsdax = csi.available();
            long sector = csi.controller().getCapacity(GetCapacityRequest.newBuilder()
                    .putParameters("usage", "FileIO").build()).getAvailableCapacity();
            if (BackendKind.current() == BackendKind.LVM) {
                // Logical volumes have no BTT: LVM mode offers no sector volumes at all.
                assertEquals(0, sector);
                assertTrue(fsdax > 0);
                return;
            }
            // Sector mode does without fsdax's page map (64 bytes per 4 KiB page of the media), so it
            // may offer more, but never more than that page map.
            long pageMap = new Backend(ws).regionBytes() / 64;
            assertTrue(sector > 0 && sector <= fsdax + pageMap, sector + " vs " + fsdax + " + " + pageMap);
        }
    }

    @Nested
    class ControllerGetVolume {

        @Test
        void codesAndCondition() {
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> csi.controller().controllerGetVolume(
                    ControllerGetVolumeRequest.getDefaultInstance())));
            assertEquals(Code.NOT_FOUND, codeOf(() -> csi.controller().controllerGetVolume(
                    ControllerGetVolumeRequest.newBuilder().setVolumeId("conf-nope").build())));
            Volume v = csi.create("conf-get", SIZE);
            try {
                ControllerGetVolumeResponse r = csi.controller().controllerGetVolume(
                        ControllerGetVolumeRequest.newBuilder().setVolumeId(v.getVolumeId()).build());
                assertEquals(v, r.getVolume());
                assertTrue(r.getStatus().hasVolumeCondition());
                assertFalse(r.getStatus().getVolumeCondition().getAbnormal());
            } finally {
                csi.delete(v.getVolumeId());
            }
        }
    }

    // ================================================================= Node

    @Nested
    class NodeInfo {

        @Test
        void capabilitiesAndInfo() {
            Set<NodeServiceCapability.RPC.Type> types = new HashSet<>();
            csi.node().nodeGetCapabilities(NodeGetCapabilitiesRequest.getDefaultInstance())
                    .getCapabilitiesList().forEach(c -> types.add(c.getRpc().getType()));
            assertEquals(Set.of(NodeServiceCapability.RPC.Type.STAGE_UNSTAGE_VOLUME,
                    NodeServiceCapability.RPC.Type.GET_VOLUME_STATS,
                    NodeServiceCapability.RPC.Type.VOLUME_CONDITION,
                    NodeServiceCapability.RPC.Type.SINGLE_NODE_MULTI_WRITER), without(types,
                    NodeServiceCapability.RPC.Type.EXPAND_VOLUME));
            NodeGetInfoResponse info = csi.node().nodeGetInfo(NodeGetInfoRequest.getDefaultInstance());
            assertEquals(DriverProcess.NODE, info.getNodeId());
            assertEquals(0, info.getMaxVolumesPerNode());
            assertEquals(topology(DriverProcess.NODE), info.getAccessibleTopology(),
                    "the node's topology is the one volumes are accessible from");
            if (!expansionOffered()) {
                assertEquals(Code.UNIMPLEMENTED, codeOf(() -> csi.node().nodeExpandVolume(
                        NodeExpandVolumeRequest.newBuilder().setVolumeId("x").setVolumePath("/x").build())));
            }
        }
    }

    @Nested
    class StageAndPublish {

        @Test
        void missingFieldsAreInvalidArgument() throws Exception {
            Path staging = ws.newStagingPath();
            Path target = ws.newTargetPath();
            var n = csi.node();
            NodeStageVolumeRequest stage = NodeStageVolumeRequest.newBuilder().setVolumeId("v")
                    .setStagingTargetPath(staging.toString()).setVolumeCapability(Csi.mount()).build();
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> n.nodeStageVolume(stage.toBuilder().clearVolumeId().build())));
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> n.nodeStageVolume(stage.toBuilder().clearStagingTargetPath().build())));
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> n.nodeStageVolume(stage.toBuilder().clearVolumeCapability().build())));
            NodePublishVolumeRequest publish = NodePublishVolumeRequest.newBuilder().setVolumeId("v")
                    .setStagingTargetPath(staging.toString()).setTargetPath(target.toString())
                    .setVolumeCapability(Csi.mount()).build();
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> n.nodePublishVolume(publish.toBuilder().clearVolumeId().build())));
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> n.nodePublishVolume(publish.toBuilder().clearTargetPath().build())));
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> n.nodePublishVolume(publish.toBuilder().clearVolumeCapability().build())));
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> n.nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder()
                    .setStagingTargetPath(staging.toString()).build())));
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> n.nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder()
                    .setVolumeId("v").build())));
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> n.nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder()
                    .setTargetPath(target.toString()).build())));
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> n.nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder()
                    .setVolumeId("v").build())));
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> n.nodeGetVolumeStats(NodeGetVolumeStatsRequest.newBuilder()
                    .setVolumePath(target.toString()).build())));
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> n.nodeGetVolumeStats(NodeGetVolumeStatsRequest.newBuilder()
                    .setVolumeId("v").build())));
        }

        @Test
        void unknownVolumesAreNotFound() throws Exception {
            Path staging = ws.newStagingPath();
            assertEquals(Code.NOT_FOUND, codeOf(() -> csi.stage("conf-ghost", staging, Csi.mount())));
            assertEquals(Code.NOT_FOUND, codeOf(() -> csi.publish("conf-ghost", staging, ws.newTargetPathUnchecked(),
                    Csi.mount())));
            assertEquals(Code.NOT_FOUND, codeOf(() -> csi.node().nodeGetVolumeStats(NodeGetVolumeStatsRequest
                    .newBuilder().setVolumeId("conf-ghost").setVolumePath(staging.toString()).build())));
        }

        @Test
        void publishBeforeStageIsFailedPrecondition() throws Exception {
            Volume v = csi.create("conf-unstaged", SIZE);
            try {
                Path target = ws.newTargetPath();
                // A staging path kubelet could send, where nothing was staged.
                Path neverStaged = ws.newStagingPath();
                assertEquals(Code.FAILED_PRECONDITION, codeOf(() -> csi.publish(v.getVolumeId(), neverStaged,
                        target, Csi.mount())));
                assertFalse(Files.exists(target, LinkOption.NOFOLLOW_LINKS), "nothing was created");
            } finally {
                csi.delete(v.getVolumeId());
            }
        }

        @Test
        void mountLifeCycleIsIdempotentKeepsDataAndRemovesTheTarget() throws Exception {
            Volume v = csi.create("conf-life", SIZE);
            String id = v.getVolumeId();
            Path staging = ws.newStagingPath();
            Path target = ws.newTargetPath();
            try {
                csi.stage(id, staging, Csi.mount());
                csi.stage(id, staging, Csi.mount());
                assertTrue(Host.isMountPoint(staging));
                assertEquals(Code.ALREADY_EXISTS, codeOf(() -> csi.stage(id, staging,
                        Csi.mount("xfs", Mode.SINGLE_NODE_WRITER))), "staged with another filesystem");
                assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> csi.stage(id, staging,
                        Csi.mount("ext4", Mode.MULTI_NODE_MULTI_WRITER))));
                csi.publish(id, staging, target, Csi.mount());
                csi.publish(id, staging, target, Csi.mount());
                assertTrue(Files.isDirectory(target), "the driver creates a mount target directory");
                assertTrue(Host.isMountPoint(target));
                assertEquals(Code.ALREADY_EXISTS, codeOf(() -> csi.node().nodePublishVolume(NodePublishVolumeRequest
                        .newBuilder().setVolumeId(id).setStagingTargetPath(staging.toString())
                        .setTargetPath(target.toString()).setVolumeCapability(Csi.mount()).setReadonly(true).build())),
                        "published again at the same target read-only");
                Files.writeString(target.resolve("hello"), "kept", StandardCharsets.UTF_8);
                NodeGetVolumeStatsResponse stats = csi.node().nodeGetVolumeStats(NodeGetVolumeStatsRequest.newBuilder()
                        .setVolumeId(id).setVolumePath(target.toString()).build());
                assertEquals(Set.of(VolumeUsage.Unit.BYTES, VolumeUsage.Unit.INODES), Set.copyOf(
                        stats.getUsageList().stream().map(VolumeUsage::getUnit).toList()));
                stats.getUsageList().forEach(u -> assertTrue(u.getTotal() > 0 && u.getUsed() >= 0 && u.getAvailable() >= 0));
                assertTrue(stats.hasVolumeCondition());
                assertFalse(stats.getVolumeCondition().getAbnormal(), stats.getVolumeCondition().getMessage());
                assertEquals(Code.FAILED_PRECONDITION, codeOf(() -> csi.unstage(id, staging)), "still published");
                csi.unpublish(id, target);
                assertFalse(Files.exists(target, LinkOption.NOFOLLOW_LINKS), "unpublish removes the target");
                csi.unpublish(id, target);
                assertEquals(Code.NOT_FOUND, codeOf(() -> csi.node().nodeGetVolumeStats(NodeGetVolumeStatsRequest
                        .newBuilder().setVolumeId(id).setVolumePath(target.toString()).build())));
                csi.unstage(id, staging);
                csi.unstage(id, staging);
                assertFalse(Host.isMountPoint(staging));
                // The data survives unstage and a second stage.
                csi.stage(id, staging, Csi.mount());
                Path again = ws.newTargetPath();
                csi.publish(id, staging, again, Csi.mount());
                assertEquals("kept", Files.readString(again.resolve("hello")));
                csi.unpublish(id, again);
            } finally {
                csi.unstage(id, staging);
                csi.delete(id);
            }
        }

        @Test
        void readOnlyPublishIsReadOnly() throws Exception {
            // Against the container image this writes through the host's copy of the target,
            // which a remount to read-only in the container would not reach.
            Volume v = csi.create("conf-ro", SIZE);
            String id = v.getVolumeId();
            Path staging = ws.newStagingPath();
            Path target = ws.newTargetPath();
            csi.stage(id, staging, Csi.mount());
            try {
                csi.node().nodePublishVolume(NodePublishVolumeRequest.newBuilder().setVolumeId(id)
                        .setStagingTargetPath(staging.toString()).setTargetPath(target.toString())
                        .setVolumeCapability(Csi.mount()).setReadonly(true).build());
                assertThrowsIo(() -> Files.writeString(target.resolve("x"), "no"));
                csi.unpublish(id, target);
            } finally {
                csi.unstage(id, staging);
                csi.delete(id);
            }
        }

        @Test
        void singleWriterVolumeAtASecondTargetIsFailedPrecondition() throws Exception {
            VolumeCapability single = Csi.mount("ext4", Mode.SINGLE_NODE_SINGLE_WRITER);
            Volume v = csi.controller().createVolume(create("conf-sw").clearVolumeCapabilities()
                    .addVolumeCapabilities(single).build()).getVolume();
            String id = v.getVolumeId();
            Path staging = ws.newStagingPath();
            Path first = ws.newTargetPath();
            Path second = ws.newTargetPath();
            csi.stage(id, staging, single);
            try {
                csi.publish(id, staging, first, single);
                assertEquals(Code.FAILED_PRECONDITION, codeOf(() -> csi.publish(id, staging, second, single)));
                assertFalse(Files.exists(second, LinkOption.NOFOLLOW_LINKS));
                csi.unpublish(id, first);
            } finally {
                csi.unstage(id, staging);
                csi.delete(id);
            }
        }

        @Test
        void blockVolumesAreBoundOntoAFileTheDriverCreatesAndRemoves() throws Exception {
            Volume v = csi.create("conf-block", SIZE);
            String id = v.getVolumeId();
            Path staging = ws.newStagingPath();
            Path target = ws.newTargetPath();
            csi.stage(id, staging, Csi.block());
            try {
                csi.publish(id, staging, target, Csi.block());
                assertTrue(Files.exists(target) && !Files.isDirectory(target), "a file, bound to the device");
                assertTrue(Host.isMountPoint(target));
                assertEquals(Code.FAILED_PRECONDITION, codeOf(() -> csi.publish(id, staging, ws.newTargetPathUnchecked(),
                        Csi.mount())), "staged for block, published as mount");
                NodeGetVolumeStatsResponse stats = csi.node().nodeGetVolumeStats(NodeGetVolumeStatsRequest
                        .newBuilder().setVolumeId(id).setVolumePath(target.toString()).build());
                assertEquals(v.getCapacityBytes(), stats.getUsage(0).getTotal());
                csi.unpublish(id, target);
                assertFalse(Files.exists(target, LinkOption.NOFOLLOW_LINKS));
            } finally {
                csi.unstage(id, staging);
                csi.delete(id);
            }
        }

        @Test
        void unstageAndUnpublishOfWhatIsNotThereAreOk() throws Exception {
            Path staging = ws.newStagingPath();
            Path target = ws.newTargetPath();
            assertEquals(Code.OK, codeOf(() -> csi.unstage("conf-never", staging)));
            assertEquals(Code.OK, codeOf(() -> csi.unpublish("conf-never", target)));
        }

        @Test
        void ephemeralVolumesLiveAndDieWithTheirPublication() throws Exception {
            long before = csi.available();
            Path target = ws.newTargetPath();
            csi.node().nodePublishVolume(Csi.ephemeralRequest("conf-eph", target, "48Mi"));
            csi.node().nodePublishVolume(Csi.ephemeralRequest("conf-eph", target, "48Mi"));
            assertTrue(Host.isMountPoint(target));
            assertTrue(csi.available() < before);
            Files.writeString(target.resolve("scratch"), "x");
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> csi.node().nodePublishVolume(
                    Csi.ephemeralRequest("conf-eph-nosize", ws.newTargetPathUnchecked(), "48Mi").toBuilder()
                            .removeVolumeContext("size").build())), "an inline volume needs a size");
            csi.unpublish("conf-eph", target);
            assertFalse(Files.exists(target, LinkOption.NOFOLLOW_LINKS));
            assertEquals(before, csi.available(), "unpublish deletes the ephemeral volume");
        }
    }

    private static void assertThrowsIo(IoAction a) {
        try {
            a.run();
        } catch (java.io.IOException e) {
            return;
        }
        throw new AssertionError("a write to a read-only publication succeeded");
    }

    // ================================================================= Expansion

    /**
     * What csi-sanity checks of ControllerExpandVolume and NodeExpandVolume, and a filesystem that
     * grows under a published volume with its data kept. Skipped while the backend grows no volumes.
     */
    @Nested
    class Expansion {

        private static final long GROWN = 2 * SIZE;

        @BeforeEach
        void onlyWhereOffered() {
            assumeTrue(expansionOffered(), "the backend does not grow volumes (DeviceManager.expansion() is NONE):"
                    + " the expansion cases run once it does");
        }

        @Test
        void theExpansionTypeIsOnlineOrOffline() {
            assertTrue(Set.of(PluginCapability.VolumeExpansion.Type.ONLINE, PluginCapability.VolumeExpansion.Type.OFFLINE)
                    .contains(expansionType().orElseThrow()), "expansion type " + expansionType());
        }

        private ControllerExpandVolumeRequest.Builder grow(String id, long required) {
            return ControllerExpandVolumeRequest.newBuilder().setVolumeId(id)
                    .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(required));
        }

        @Test
        void controllerRefusesRequestsWithoutVolumeIdOrCapacity() {
            Volume v = csi.create("conf-grow-args", SIZE);
            try {
                assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> csi.controller().controllerExpandVolume(
                        grow("", GROWN).build())));
                assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> csi.controller().controllerExpandVolume(
                        ControllerExpandVolumeRequest.newBuilder().setVolumeId(v.getVolumeId()).build())));
                assertEquals(Code.NOT_FOUND, codeOf(() -> csi.controller().controllerExpandVolume(
                        grow("conf-ghost", GROWN).build())));
            } finally {
                csi.delete(v.getVolumeId());
            }
        }

        @Test
        void controllerGrowsACreatedVolume() {
            Volume v = csi.create("conf-grow", SIZE);
            try {
                var r = csi.controller().controllerExpandVolume(grow(v.getVolumeId(), GROWN)
                        .setVolumeCapability(Csi.mount()).build());
                assertTrue(r.getCapacityBytes() >= GROWN, "capacity " + r.getCapacityBytes());
                assertTrue(r.getNodeExpansionRequired(), "a filesystem volume grows on the node too");
                assertEquals(r.getCapacityBytes(), csi.controller().controllerGetVolume(ControllerGetVolumeRequest
                        .newBuilder().setVolumeId(v.getVolumeId()).build()).getVolume().getCapacityBytes());
                assertEquals(r, csi.controller().controllerExpandVolume(grow(v.getVolumeId(), GROWN)
                        .setVolumeCapability(Csi.mount()).build()), "a repeated call answers the same");
            } finally {
                csi.delete(v.getVolumeId());
            }
        }

        @Test
        void nodeRefusesRequestsWithoutVolumeIdOrPathAndUnknownVolumes() throws Exception {
            Path target = ws.newTargetPath();
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> csi.node().nodeExpandVolume(NodeExpandVolumeRequest
                    .newBuilder().setVolumePath(target.toString()).build())));
            assertEquals(Code.INVALID_ARGUMENT, codeOf(() -> csi.node().nodeExpandVolume(NodeExpandVolumeRequest
                    .newBuilder().setVolumeId("conf-ghost").build())));
            assertEquals(Code.NOT_FOUND, codeOf(() -> csi.node().nodeExpandVolume(NodeExpandVolumeRequest
                    .newBuilder().setVolumeId("conf-ghost").setVolumePath(target.toString()).build())));
        }

        /** xfs grows without privileges beyond root's; ext4 needs CAP_SYS_RESOURCE, see the assumption. */
        @Test
        void nodeGrowsThePublishedXfsFilesystemAndKeepsItsData() throws Exception {
            growPublished("xfs", 600 * MIB, 700 * MIB);
        }

        @Test
        void nodeGrowsThePublishedExt4FilesystemAndKeepsItsData() throws Exception {
            assumeTrue(Files.readAllLines(Path.of("/proc/self/status")).stream()
                            .filter(l -> l.startsWith("CapEff:"))
                            .anyMatch(l -> (Long.parseUnsignedLong(l.substring(7).strip(), 16) & (1L << 24)) != 0),
                    "the kernel grows ext4 only for a process with CAP_SYS_RESOURCE, which this one lacks");
            growPublished("ext4", SIZE, GROWN);
        }

        private void growPublished(String fs, long size, long grown) throws Exception {
            VolumeCapability cap = Csi.mount(fs, Mode.SINGLE_NODE_WRITER);
            Volume v = csi.controller().createVolume(create("conf-grow-" + fs).setCapacityRange(CapacityRange
                    .newBuilder().setRequiredBytes(size).setLimitBytes(size)).clearVolumeCapabilities()
                    .addVolumeCapabilities(cap).build()).getVolume();
            String id = v.getVolumeId();
            Path staging = ws.newStagingPath();
            Path target = ws.newTargetPath();
            try {
                csi.stage(id, staging, cap);
                csi.publish(id, staging, target, cap);
                Files.writeString(target.resolve("hello"), "kept", StandardCharsets.UTF_8);
                long before = total(id, target);
                if (offlineOnly()) {
                    // CSI: a published volume of a plugin without ONLINE expansion is FAILED_PRECONDITION;
                    // the resizer retries once the pod is gone, and kubelet grows the filesystem at the
                    // next stage with NodeExpandVolume.
                    assertEquals(Code.FAILED_PRECONDITION, codeOf(() -> csi.controller().controllerExpandVolume(
                            grow(id, grown).setVolumeCapability(cap).build())));
                    csi.unpublish(id, target);
                    csi.unstage(id, staging);
                }
                var c = csi.controller().controllerExpandVolume(grow(id, grown).setVolumeCapability(cap).build());
                assertTrue(c.getNodeExpansionRequired());
                if (offlineOnly()) {
                    csi.stage(id, staging, cap);
                    target = ws.newTargetPath();
                    csi.publish(id, staging, target, cap);
                    assertEquals(before, total(id, target), "staging leaves the filesystem as it was");
                }
                var n = csi.node().nodeExpandVolume(NodeExpandVolumeRequest.newBuilder().setVolumeId(id)
                        .setVolumePath(target.toString()).setStagingTargetPath(staging.toString())
                        .setVolumeCapability(cap)
                        .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(grown)).build());
                assertTrue(n.getCapacityBytes() >= grown, "node capacity " + n.getCapacityBytes());
                long after = total(id, target);
                assertTrue(after > before + (grown - size) * 9 / 10 && after <= c.getCapacityBytes(),
                        "the filesystem grew: " + before + " -> " + after);
                assertEquals("kept", Files.readString(target.resolve("hello")));
                csi.unpublish(id, target);
                csi.unstage(id, staging);
                csi.stage(id, staging, cap);
                Path again = ws.newTargetPath();
                csi.publish(id, staging, again, cap);
                assertEquals(after, total(id, again), "the growth is on disk");
                assertEquals("kept", Files.readString(again.resolve("hello")));
                csi.unpublish(id, again);
            } finally {
                csi.unpublish(id, target);
                csi.unstage(id, staging);
                csi.delete(id);
            }
        }

        @Test
        void aRawBlockVolumeNeedsNoNodeStep() throws Exception {
            Volume v = csi.controller().createVolume(create("conf-grow-block").clearVolumeCapabilities()
                    .addVolumeCapabilities(Csi.block()).build()).getVolume();
            String id = v.getVolumeId();
            Path staging = ws.newStagingPath();
            Path target = ws.newTargetPathUnchecked();
            try {
                csi.stage(id, staging, Csi.block());
                csi.publish(id, staging, target, Csi.block());
                if (offlineOnly()) {
                    assertEquals(Code.FAILED_PRECONDITION, codeOf(() -> csi.controller().controllerExpandVolume(
                            grow(id, GROWN).build())));
                    csi.unpublish(id, target);
                    csi.unstage(id, staging);
                }
                var c = csi.controller().controllerExpandVolume(grow(id, GROWN).build());
                assertFalse(c.getNodeExpansionRequired(), "created for raw block access");
                if (offlineOnly()) {
                    csi.stage(id, staging, Csi.block());
                    target = ws.newTargetPathUnchecked();
                    csi.publish(id, staging, target, Csi.block());
                }
                var n = csi.node().nodeExpandVolume(NodeExpandVolumeRequest.newBuilder().setVolumeId(id)
                        .setVolumePath(target.toString()).build());
                assertTrue(n.getCapacityBytes() >= GROWN, "the device grew: " + n.getCapacityBytes());
            } finally {
                csi.unpublish(id, target);
                csi.unstage(id, staging);
                csi.delete(id);
            }
        }

        private long total(String id, Path path) {
            return csi.node().nodeGetVolumeStats(NodeGetVolumeStatsRequest.newBuilder().setVolumeId(id)
                    .setVolumePath(path.toString()).build()).getUsageList().stream()
                    .filter(u -> u.getUnit() == VolumeUsage.Unit.BYTES).findFirst().orElseThrow().getTotal();
        }
    }

    @FunctionalInterface
    private interface IoAction {
        void run() throws java.io.IOException;
    }
}
