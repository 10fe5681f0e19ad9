package dev.pmemcsi.controller;

import static dev.pmemcsi.controller.Fixture.GIB;
import static dev.pmemcsi.controller.Fixture.MIB;
import static dev.pmemcsi.controller.Fixture.NODE;
import static dev.pmemcsi.controller.Fixture.TOPOLOGY_KEY;
import static dev.pmemcsi.controller.Fixture.block;
import static dev.pmemcsi.controller.Fixture.create;
import static dev.pmemcsi.controller.Fixture.failure;
import static dev.pmemcsi.controller.Fixture.mount;
import static dev.pmemcsi.controller.Fixture.node;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.csi.v1.CreateVolumeRequest;
import dev.pmemcsi.csi.v1.TopologyRequirement;
import dev.pmemcsi.csi.v1.Volume;
import dev.pmemcsi.csi.v1.VolumeCapability.AccessMode.Mode;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.csi.v1.VolumeContentSource;
import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.VolumeAccess;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.driver.VolumeLocks;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

class CreateVolumeTest {

    private Fixture f;

    @BeforeEach
    void setUp() throws Exception {
        f = new Fixture(8 * GIB, 4 * GIB);
    }

    @AfterEach
    void tearDown() throws Exception {
        f.close();
    }

    private Volume createOk(CreateVolumeRequest.Builder req) {
        return f.stub.createVolume(req.build()).getVolume();
    }

    private boolean exists(String name) throws Exception {
        return f.devices.getVolume(VolumeIds.fromName(name)).isPresent();
    }

    // ---- result

    @Test
    void returnsUsableCapacityContextAndThisNodesTopology() throws Exception {
        Volume v = createOk(create("pvc-1", GIB, 0));
        assertEquals(VolumeIds.fromName("pvc-1"), v.getVolumeId());
        dev.pmemcsi.device.PmemVolume dev = f.devices.getVolume(v.getVolumeId()).orElseThrow();
        assertEquals(dev.usableBytes(), v.getCapacityBytes());
        assertTrue(v.getCapacityBytes() >= GIB);
        assertEquals(Map.of("usage", "AppDirect", "eraseafter", "true"), v.getVolumeContextMap());
        assertEquals(1, v.getAccessibleTopologyCount());
        assertEquals(Map.of(TOPOLOGY_KEY, NODE), v.getAccessibleTopology(0).getSegmentsMap());
        assertEquals(VolumeMode.FSDAX, dev.mode());
        assertTrue(dev.eraseAfter());
    }

    @Test
    void noCapacityRangeGivesTheDefaultSize() {
        Volume v = createOk(create("pvc-1"));
        assertTrue(v.getCapacityBytes() >= CapacityMath.DEFAULT_VOLUME_BYTES);
    }

    // ---- capacity_range

    @Test
    void sizeStaysBetweenRequiredAndLimit() {
        Volume v = createOk(create("pvc-1", 100 * MIB, 200 * MIB));
        assertTrue(v.getCapacityBytes() >= 100 * MIB && v.getCapacityBytes() <= 200 * MIB, "" + v.getCapacityBytes());
    }

    @Test
    void limitAloneBelowTheDefaultGivesAVolumeWithinTheLimit() {
        Volume v = createOk(create("pvc-1", 0, 300 * MIB));
        assertTrue(v.getCapacityBytes() > 0 && v.getCapacityBytes() <= 300 * MIB, "" + v.getCapacityBytes());
    }

    @Test
    void limitAloneEqualToTheDefaultIsNotExceeded() {
        Volume v = createOk(create("pvc-1", 0, CapacityMath.DEFAULT_VOLUME_BYTES));
        assertTrue(v.getCapacityBytes() > 0 && v.getCapacityBytes() <= CapacityMath.DEFAULT_VOLUME_BYTES);
    }

    @Test
    void limitBelowTheSmallestVolumeIsOutOfRange() throws Exception {
        assertEquals(Status.Code.OUT_OF_RANGE, failure(() -> createOk(create("pvc-1", 0, MIB))).getCode());
        assertFalse(exists("pvc-1"));
    }

    @Test
    void aRangeNarrowerThanAnAllocationUnitIsServed() {
        long odd = 100 * MIB + 1;
        Volume v = createOk(create("pvc-1", odd, odd));
        assertEquals(odd, v.getCapacityBytes());
    }

    @Test
    void negativeSizesAreInvalid() {
        assertEquals(Status.Code.INVALID_ARGUMENT, failure(() -> createOk(create("pvc-1", -1, 0))).getCode());
        assertEquals(Status.Code.INVALID_ARGUMENT, failure(() -> createOk(create("pvc-1", 0, -1))).getCode());
    }

    @Test
    void limitBelowRequiredIsInvalid() {
        Status s = failure(() -> createOk(create("pvc-1", 2 * GIB, GIB)));
        assertEquals(Status.Code.INVALID_ARGUMENT, s.getCode());
        assertTrue(s.getDescription().contains("limit_bytes"), s.getDescription());
    }

    @Test
    void moreThanAnyRegionHoldsIsResourceExhausted() throws Exception {
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, failure(() -> createOk(create("pvc-1", 9 * GIB, 0))).getCode());
        assertFalse(exists("pvc-1"));
    }

    // ---- name, capabilities

    @Test
    void missingNameIsInvalid() {
        assertEquals(Status.Code.INVALID_ARGUMENT, failure(() -> createOk(create(""))).getCode());
    }

    @Test
    void missingCapabilitiesAreInvalid() {
        assertEquals(Status.Code.INVALID_ARGUMENT,
                failure(() -> createOk(CreateVolumeRequest.newBuilder().setName("pvc-1"))).getCode());
    }

    @ParameterizedTest
    @EnumSource(value = Mode.class, names = {"MULTI_NODE_READER_ONLY", "MULTI_NODE_SINGLE_WRITER", "MULTI_NODE_MULTI_WRITER", "UNKNOWN"})
    void multiNodeAccessModesAreInvalid(Mode mode) throws Exception {
        assertEquals(Status.Code.INVALID_ARGUMENT, failure(() -> createOk(
                CreateVolumeRequest.newBuilder().setName("pvc-1").addVolumeCapabilities(mount("", mode)))).getCode());
        assertEquals(Status.Code.INVALID_ARGUMENT, failure(() -> createOk(
                CreateVolumeRequest.newBuilder().setName("pvc-1").addVolumeCapabilities(block(mode)))).getCode());
        assertFalse(exists("pvc-1"));
    }

    @ParameterizedTest
    @EnumSource(value = Mode.class, names = {"SINGLE_NODE_WRITER", "SINGLE_NODE_READER_ONLY", "SINGLE_NODE_SINGLE_WRITER", "SINGLE_NODE_MULTI_WRITER"})
    void singleNodeAccessModesWorkForMountAndBlock(Mode mode) {
        Volume m = createOk(CreateVolumeRequest.newBuilder().setName("m-" + mode).addVolumeCapabilities(mount("ext4", mode)));
        Volume b = createOk(CreateVolumeRequest.newBuilder().setName("b-" + mode).addVolumeCapabilities(block(mode)));
        assertEquals(VolumeIds.fromName("m-" + mode), m.getVolumeId());
        assertEquals(VolumeIds.fromName("b-" + mode), b.getVolumeId());
        assertEquals(VolumeAccess.filesystem("ext4"), f.devices.getVolume(m.getVolumeId()).orElseThrow().access());
        assertEquals(VolumeAccess.blockOnly(), f.devices.getVolume(b.getVolumeId()).orElseThrow().access());
        assertTrue(m.getCapacityBytes() >= CapacityMath.DEFAULT_VOLUME_BYTES, "" + m.getCapacityBytes());
        assertTrue(b.getCapacityBytes() >= CapacityMath.DEFAULT_VOLUME_BYTES, "" + b.getCapacityBytes());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "ext4", "xfs"})
    void ext4AndXfsAreAccepted(String fs) {
        Volume v = createOk(CreateVolumeRequest.newBuilder().setName("pvc-1").addVolumeCapabilities(mount(fs, Mode.SINGLE_NODE_WRITER)));
        dev.pmemcsi.device.PmemVolume dev = f.devices.getVolume(v.getVolumeId()).orElseThrow();
        assertEquals(VolumeAccess.filesystem(fs.isEmpty() ? VolumeAccess.EXT4 : fs), dev.access(), "the empty fsType means ext4");
        assertEquals(dev.capacityBytes(), v.getCapacityBytes());
        assertTrue(v.getCapacityBytes() >= CapacityMath.DEFAULT_VOLUME_BYTES, "" + v.getCapacityBytes());
    }

    @Test
    void smallXfsVolumesAreRaisedToWhatMkfsXfsAccepts() {
        Volume v = createOk(CreateVolumeRequest.newBuilder().setName("pvc-1")
                .setCapacityRange(dev.pmemcsi.csi.v1.CapacityRange.newBuilder().setRequiredBytes(256 * MIB))
                .addVolumeCapabilities(mount("xfs", Mode.SINGLE_NODE_WRITER)));
        assertTrue(v.getCapacityBytes() >= dev.pmemcsi.driver.VolumeCapabilities.MIN_XFS_BYTES, "" + v.getCapacityBytes());
    }

    @Test
    void xfsBelowItsMinimumWithinALimitIsOutOfRange() throws Exception {
        Status s = failure(() -> createOk(CreateVolumeRequest.newBuilder().setName("pvc-1")
                .setCapacityRange(dev.pmemcsi.csi.v1.CapacityRange.newBuilder()
                        .setRequiredBytes(256 * MIB).setLimitBytes(300 * MIB))
                .addVolumeCapabilities(mount("xfs", Mode.SINGLE_NODE_WRITER))));
        assertEquals(Status.Code.OUT_OF_RANGE, s.getCode());
        assertTrue(s.getDescription().contains("xfs"), s.getDescription());
        assertFalse(exists("pvc-1"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"btrfs", "ext3", "nfs"})
    void otherFilesystemsAreInvalid(String fs) {
        Status s = failure(() -> createOk(CreateVolumeRequest.newBuilder().setName("pvc-1")
                .addVolumeCapabilities(mount(fs, Mode.SINGLE_NODE_WRITER))));
        assertEquals(Status.Code.INVALID_ARGUMENT, s.getCode());
        assertTrue(s.getDescription().contains(fs), s.getDescription());
    }

    @Test
    void oneUnsupportedCapabilityAmongSeveralIsInvalid() {
        assertEquals(Status.Code.INVALID_ARGUMENT, failure(() -> createOk(create("pvc-1")
                .addVolumeCapabilities(mount("", Mode.MULTI_NODE_MULTI_WRITER)))).getCode());
    }

    // ---- parameters

    @Test
    void eraseafterFalseIsRecorded() throws Exception {
        Volume v = createOk(create("pvc-1").putParameters("eraseafter", "false"));
        assertEquals("false", v.getVolumeContextMap().get("eraseafter"));
        assertFalse(f.devices.getVolume(v.getVolumeId()).orElseThrow().eraseAfter());
    }

    @Test
    void usageFileIoGivesASectorVolume() throws Exception {
        Volume v = createOk(create("pvc-1").putParameters("usage", "FileIO"));
        assertEquals("FileIO", v.getVolumeContextMap().get("usage"));
        assertEquals(VolumeMode.SECTOR, f.devices.getVolume(v.getVolumeId()).orElseThrow().mode());
    }

    @Test
    void compatibilityParametersAndKubernetesKeysAreAccepted() throws Exception {
        Volume v = createOk(create("pvc-1")
                .putParameters("persistencyModel", "normal")
                .putParameters("kataContainers", "false")
                .putParameters("usage", "AppDirect")
                .putParameters("csi.storage.k8s.io/pvc/name", "data")
                .putParameters("csi.storage.k8s.io/pvc/namespace", "default")
                .putParameters("csi.storage.k8s.io/pv/name", "pvc-1"));
        dev.pmemcsi.device.PmemVolume dev = f.devices.getVolume(v.getVolumeId()).orElseThrow();
        assertEquals(VolumeMode.FSDAX, dev.mode(), "usage AppDirect is the default FSDAX volume");
        assertTrue(dev.eraseAfter());
        assertEquals(Map.of("usage", "AppDirect", "eraseafter", "true"), v.getVolumeContextMap(),
                "the compatibility and Kubernetes keys do not reach the volume context");
        assertTrue(v.getCapacityBytes() >= CapacityMath.DEFAULT_VOLUME_BYTES, "" + v.getCapacityBytes());
    }

    @Test
    void kataContainersIsNotSupportedYet() throws Exception {
        Status s = failure(() -> createOk(create("pvc-1").putParameters("kataContainers", "true")));
        assertEquals(Status.Code.INVALID_ARGUMENT, s.getCode());
        assertTrue(s.getDescription().contains("not supported yet"), s.getDescription());
        assertFalse(exists("pvc-1"));
    }

    @Test
    void unknownParameterIsInvalidAndNamed() {
        Status s = failure(() -> createOk(create("pvc-1").putParameters("fsgroup", "5")));
        assertEquals(Status.Code.INVALID_ARGUMENT, s.getCode());
        assertTrue(s.getDescription().contains("fsgroup"), s.getDescription());
    }

    @Test
    void badParameterValuesAreInvalid() {
        assertEquals(Status.Code.INVALID_ARGUMENT,
                failure(() -> createOk(create("pvc-1").putParameters("usage", "Memory"))).getCode());
        assertEquals(Status.Code.INVALID_ARGUMENT,
                failure(() -> createOk(create("pvc-1").putParameters("eraseafter", "maybe"))).getCode());
        assertEquals(Status.Code.INVALID_ARGUMENT,
                failure(() -> createOk(create("pvc-1").putParameters("persistencyModel", "cache"))).getCode());
        assertEquals(Status.Code.INVALID_ARGUMENT,
                failure(() -> createOk(create("pvc-1").putParameters("size", "1Gi"))).getCode());
    }

    @Test
    void mutableParametersAreInvalid() {
        Status s = failure(() -> createOk(create("pvc-1").addMutableParameters(
                CreateVolumeRequest.MutableParametersEntry.newBuilder().setKey("iops").setValue("5"))));
        assertEquals(Status.Code.INVALID_ARGUMENT, s.getCode());
        assertTrue(s.getDescription().contains("iops"), s.getDescription());
    }

    @Test
    void contentSourceIsInvalid() throws Exception {
        VolumeContentSource snapshot = VolumeContentSource.newBuilder()
                .setSnapshot(VolumeContentSource.SnapshotSource.newBuilder().setSnapshotId("snap-1")).build();
        VolumeContentSource clone = VolumeContentSource.newBuilder()
                .setVolume(VolumeContentSource.VolumeSource.newBuilder().setVolumeId("vol-1")).build();
        assertEquals(Status.Code.INVALID_ARGUMENT,
                failure(() -> createOk(create("pvc-1").setVolumeContentSource(snapshot))).getCode());
        assertEquals(Status.Code.INVALID_ARGUMENT,
                failure(() -> createOk(create("pvc-1").setVolumeContentSource(clone))).getCode());
        assertFalse(exists("pvc-1"));
    }

    // ---- idempotency

    @Test
    void sameRequestTwiceReturnsTheSameVolume() throws Exception {
        Volume first = createOk(create("pvc-1", GIB, 0).putParameters("usage", "FileIO"));
        Volume second = createOk(create("pvc-1", GIB, 0).putParameters("usage", "FileIO"));
        assertEquals(first, second);
        assertEquals(1, f.devices.listVolumes().size());
    }

    @Test
    void repeatWithACompatibleRangeReturnsTheVolume() {
        Volume first = createOk(create("pvc-1", GIB, 0));
        assertEquals(first, createOk(create("pvc-1")));
        assertEquals(first, createOk(create("pvc-1", GIB / 2, 2 * GIB)));
        assertEquals(first, createOk(create("pvc-1", 0, first.getCapacityBytes())));
    }

    @Test
    void repeatAskingForMoreIsAlreadyExists() {
        Volume first = createOk(create("pvc-1", GIB, 0));
        assertEquals(Status.Code.ALREADY_EXISTS,
                failure(() -> createOk(create("pvc-1", first.getCapacityBytes() + 1, 0))).getCode());
    }

    @Test
    void repeatWithALowerLimitIsAlreadyExists() {
        Volume first = createOk(create("pvc-1", GIB, 0));
        assertEquals(Status.Code.ALREADY_EXISTS,
                failure(() -> createOk(create("pvc-1", 0, first.getCapacityBytes() - 1))).getCode());
    }

    @Test
    void repeatWithOtherParametersIsAlreadyExists() {
        createOk(create("pvc-1"));
        Status usage = failure(() -> createOk(create("pvc-1").putParameters("usage", "FileIO")));
        assertEquals(Status.Code.ALREADY_EXISTS, usage.getCode());
        assertTrue(usage.getDescription().contains("AppDirect"), usage.getDescription());
        Status erase = failure(() -> createOk(create("pvc-1").putParameters("eraseafter", "false")));
        assertEquals(Status.Code.ALREADY_EXISTS, erase.getCode());
        assertTrue(erase.getDescription().contains("eraseafter"), erase.getDescription());
    }

    @Test
    void repeatNamingAnotherFilesystemIsAlreadyExists() {
        Volume ext4 = createOk(create("pvc-1", 110 * MIB, 0));
        Status s = failure(() -> createOk(CreateVolumeRequest.newBuilder().setName("pvc-1")
                .setCapacityRange(dev.pmemcsi.csi.v1.CapacityRange.newBuilder().setRequiredBytes(110 * MIB))
                .addVolumeCapabilities(mount("xfs", Mode.SINGLE_NODE_WRITER))));
        assertEquals(Status.Code.ALREADY_EXISTS, s.getCode());
        assertTrue(s.getDescription().contains("ext4") && s.getDescription().contains("xfs"), s.getDescription());
        assertEquals(ext4, createOk(CreateVolumeRequest.newBuilder().setName("pvc-1")
                .setCapacityRange(dev.pmemcsi.csi.v1.CapacityRange.newBuilder().setRequiredBytes(110 * MIB))
                .addVolumeCapabilities(mount("ext4", Mode.SINGLE_NODE_MULTI_WRITER))),
                "ext4 named explicitly, and another single-node access mode, is the same volume");
    }

    @Test
    void repeatNamingAnotherAccessTypeIsAlreadyExists() {
        createOk(create("pvc-1"));
        Status toBlock = failure(() -> createOk(CreateVolumeRequest.newBuilder().setName("pvc-1")
                .addVolumeCapabilities(block(Mode.SINGLE_NODE_SINGLE_WRITER))));
        assertEquals(Status.Code.ALREADY_EXISTS, toBlock.getCode());
        assertTrue(toBlock.getDescription().contains("block"), toBlock.getDescription());

        createOk(CreateVolumeRequest.newBuilder().setName("pvc-2").addVolumeCapabilities(block(Mode.SINGLE_NODE_WRITER)));
        assertEquals(Status.Code.ALREADY_EXISTS, failure(() -> createOk(create("pvc-2"))).getCode());
    }

    @Test
    void aVolumeCreatedForBlockAndMountServesEither() {
        Volume both = createOk(create("pvc-1").addVolumeCapabilities(block(Mode.SINGLE_NODE_WRITER)));
        assertEquals(both, createOk(create("pvc-1")));
        assertEquals(both, createOk(CreateVolumeRequest.newBuilder().setName("pvc-1")
                .addVolumeCapabilities(block(Mode.SINGLE_NODE_WRITER))));
    }

    @Test
    void capabilitiesAskingForTwoFilesystemsAreInvalid() throws Exception {
        Status s = failure(() -> createOk(create("pvc-1").addVolumeCapabilities(mount("xfs", Mode.SINGLE_NODE_WRITER))));
        assertEquals(Status.Code.INVALID_ARGUMENT, s.getCode());
        assertFalse(exists("pvc-1"));
    }

    // ---- topology

    @Test
    void requisiteNamingThisNodeIsHonoured() {
        Volume v = createOk(create("pvc-1").setAccessibilityRequirements(TopologyRequirement.newBuilder()
                .addRequisite(node("node-b")).addRequisite(node(NODE)).addPreferred(node(NODE))));
        assertEquals(node(NODE), v.getAccessibleTopology(0));
    }

    @Test
    void requisiteExcludingThisNodeIsResourceExhausted() throws Exception {
        Status s = failure(() -> createOk(create("pvc-1").setAccessibilityRequirements(TopologyRequirement.newBuilder()
                .addRequisite(node("node-b")).addPreferred(node("node-b")))));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, s.getCode());
        assertTrue(s.getDescription().contains("node-b") && s.getDescription().contains(NODE), s.getDescription());
        assertFalse(exists("pvc-1"));
    }

    @Test
    void requisiteWithoutTheTopologyKeyIsResourceExhausted() {
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, failure(() -> createOk(create("pvc-1")
                .setAccessibilityRequirements(TopologyRequirement.newBuilder().addRequisite(
                        dev.pmemcsi.csi.v1.Topology.newBuilder().putSegments("topology.kubernetes.io/zone", "z1")))))
                .getCode());
    }

    @Test
    void preferenceForAnotherNodeAloneDoesNotPreventCreation() {
        Volume v = createOk(create("pvc-1").setAccessibilityRequirements(
                TopologyRequirement.newBuilder().addPreferred(node("node-b"))));
        assertEquals(node(NODE), v.getAccessibleTopology(0));
    }

    // ---- concurrency

    @Test
    @SuppressWarnings("try") // the lock is held for the block
    void createWhileAnotherOperationHoldsTheVolumeIsAborted() throws Exception {
        try (VolumeLocks.Held held = f.locks.tryAcquire(VolumeIds.fromName("pvc-1")).orElseThrow()) {
            Status s = failure(() -> createOk(create("pvc-1")));
            assertEquals(Status.Code.ABORTED, s.getCode());
            assertFalse(exists("pvc-1"));
            // Other volumes are not held up.
            createOk(create("pvc-2"));
        }
        createOk(create("pvc-1"));
        assertFalse(f.locks.isHeld(VolumeIds.fromName("pvc-1")), "the lock is released after the call");
    }

    @Test
    void racingCreatesOfOneNameYieldOneVolumeAndOnlyAborted() throws Exception {
        int threads = 8;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            CyclicBarrier start = new CyclicBarrier(threads);
            List<Future<Object>> results = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                results.add(pool.submit(() -> {
                    start.await();
                    try {
                        return createOk(create("pvc-1", GIB, 0));
                    } catch (StatusRuntimeException e) {
                        return e.getStatus().getCode();
                    }
                }));
            }
            Set<Object> outcomes = new HashSet<>();
            for (Future<Object> r : results) {
                outcomes.add(r.get(30, TimeUnit.SECONDS));
            }
            outcomes.remove(Status.Code.ABORTED);
            assertEquals(1, outcomes.size(), "one volume, or ABORTED: " + outcomes);
            assertEquals(1, f.devices.listVolumes().size());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void failedCreateReleasesTheLock() {
        failure(() -> createOk(create("pvc-1", 100 * GIB, 0)));
        assertFalse(f.locks.isHeld(VolumeIds.fromName("pvc-1")));
    }

    @Test
    void namesOfAnyLengthAndAlphabetWork() {
        String longName = "pvc-" + "x".repeat(300) + "-äöü/\u4e2d";
        Volume v = createOk(create(longName));
        assertTrue(VolumeIds.isValid(v.getVolumeId()));
        assertEquals(v, createOk(create(longName)));
    }

    @Test
    void capabilityWithoutAccessTypeIsInvalid() {
        VolumeCapability noType = VolumeCapability.newBuilder()
                .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(Mode.SINGLE_NODE_WRITER)).build();
        assertEquals(Status.Code.INVALID_ARGUMENT, failure(() -> createOk(
                CreateVolumeRequest.newBuilder().setName("pvc-1").addVolumeCapabilities(noType))).getCode());
    }
}
