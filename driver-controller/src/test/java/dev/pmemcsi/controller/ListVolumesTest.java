package dev.pmemcsi.controller;

import static dev.pmemcsi.controller.Fixture.GIB;
import static dev.pmemcsi.controller.Fixture.MIB;
import static dev.pmemcsi.controller.Fixture.NODE;
import static dev.pmemcsi.controller.Fixture.create;
import static dev.pmemcsi.controller.Fixture.failure;
import static dev.pmemcsi.controller.Fixture.node;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.csi.v1.ControllerGetVolumeRequest;
import dev.pmemcsi.csi.v1.DeleteVolumeRequest;
import dev.pmemcsi.csi.v1.ListVolumesRequest;
import dev.pmemcsi.csi.v1.ListVolumesResponse;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.VolumeRequest;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ListVolumesTest {

    private Fixture f;

    @BeforeEach
    void setUp() throws Exception {
        f = new Fixture(8 * GIB);
    }

    @AfterEach
    void tearDown() throws Exception {
        f.close();
    }

    private String createVolume(String name) {
        return f.stub.createVolume(create(name, 64 * MIB, 0).build()).getVolume().getVolumeId();
    }

    private ListVolumesResponse list(int max, String token) {
        return f.stub.listVolumes(ListVolumesRequest.newBuilder().setMaxEntries(max).setStartingToken(token).build());
    }

    private static List<String> ids(ListVolumesResponse r) {
        return r.getEntriesList().stream().map(e -> e.getVolume().getVolumeId()).toList();
    }

    @Test
    void emptyListHasNoToken() {
        ListVolumesResponse r = list(0, "");
        assertEquals(0, r.getEntriesCount());
        assertEquals("", r.getNextToken());
    }

    @Test
    void entriesCarryVolumeTopologyAndCondition() {
        String id = createVolume("pvc-1");
        ListVolumesResponse.Entry e = list(0, "").getEntries(0);
        assertEquals(id, e.getVolume().getVolumeId());
        assertTrue(e.getVolume().getCapacityBytes() >= 64 * MIB);
        assertEquals(node(NODE), e.getVolume().getAccessibleTopology(0));
        assertEquals("AppDirect", e.getVolume().getVolumeContextMap().get("usage"));
        assertTrue(e.getStatus().hasVolumeCondition());
        assertFalse(e.getStatus().getVolumeCondition().getAbnormal());
        assertEquals(0, e.getStatus().getPublishedNodeIdsCount());
    }

    @Test
    void ephemeralInlineVolumesBelongToTheNodeService() throws Exception {
        String id = createVolume("pvc-1");
        // Created by NodePublishVolume for a pod's inline volume, not by CreateVolume.
        String eph = VolumeIds.ephemeral("csi-0123");
        f.devices.createVolume(new VolumeRequest(eph, 64 * MIB, 0, VolumeMode.FSDAX, true, Map.of()));
        assertEquals(List.of(id), ids(list(0, "")));
        assertEquals(List.of(id), ids(list(1, "")));
        assertEquals(Status.Code.NOT_FOUND, failure(() -> f.stub.controllerGetVolume(
                ControllerGetVolumeRequest.newBuilder().setVolumeId(eph).build())).getCode());
    }

    @Test
    void abnormalVolumesAreReportedSo() {
        String sick = createVolume("pvc-1");
        String gone = createVolume("pvc-2");
        f.devices.setBadBlocks(sick, 3);
        f.devices.setGone(gone);
        for (ListVolumesResponse.Entry e : list(0, "").getEntriesList()) {
            assertTrue(e.getStatus().getVolumeCondition().getAbnormal(), e.toString());
            assertFalse(e.getStatus().getVolumeCondition().getMessage().isBlank());
        }
    }

    @Test
    void pagesCoverEveryVolumeOnceInIdOrder() {
        List<String> all = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            all.add(createVolume("pvc-" + i));
        }
        all.sort(null);
        List<String> seen = new ArrayList<>();
        String token = "";
        int pages = 0;
        do {
            ListVolumesResponse r = list(3, token);
            assertTrue(r.getEntriesCount() <= 3);
            seen.addAll(ids(r));
            token = r.getNextToken();
            pages++;
        } while (!token.isEmpty());
        assertEquals(all, seen);
        assertEquals(3, pages);
    }

    @Test
    void exactlyFullLastPageHasNoToken() {
        createVolume("pvc-1");
        createVolume("pvc-2");
        ListVolumesResponse r = list(2, "");
        assertEquals(2, r.getEntriesCount());
        assertEquals("", r.getNextToken());
    }

    @Test
    void tokensStayValidWhileVolumesComeAndGo() {
        List<String> initial = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            initial.add(createVolume("pvc-" + i));
        }
        initial.sort(null);
        ListVolumesResponse first = list(2, "");
        assertEquals(initial.subList(0, 2), ids(first));

        // Delete the volume the token names and one already listed, and add new ones on both sides.
        String token = first.getNextToken();
        f.stub.deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(token).build());
        f.stub.deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(initial.get(0)).build());
        for (int i = 0; i < 6; i++) {
            createVolume("new-" + i);
        }

        List<String> rest = new ArrayList<>();
        while (!token.isEmpty()) {
            ListVolumesResponse r = list(2, token);
            rest.addAll(ids(r));
            token = r.getNextToken();
        }
        // Every volume that existed throughout appears exactly once, and nothing listed before repeats.
        Set<String> unique = new HashSet<>(rest);
        assertEquals(rest.size(), unique.size());
        assertTrue(unique.containsAll(initial.subList(2, 6)), rest.toString());
        assertFalse(unique.contains(initial.get(0)) || unique.contains(initial.get(1)));
        assertEquals(rest.stream().sorted().toList(), rest);
    }

    @ParameterizedTest
    @ValueSource(strings = {"invalid-token", "42", "pvc-1", "abc-DEF", "x-0123"})
    void tokensThisDriverNeverIssuedAreAborted(String token) {
        createVolume("pvc-1");
        assertEquals(Status.Code.ABORTED, failure(() -> list(1, token)).getCode());
    }

    @Test
    void tokenOfAnyDerivedIdIsAccepted() {
        String a = createVolume("aaa");
        ListVolumesResponse r = list(0, VolumeIds.fromName("never-created"));
        assertTrue(ids(r).stream().allMatch(id -> id.compareTo(VolumeIds.fromName("never-created")) > 0));
        assertEquals(a.compareTo(VolumeIds.fromName("never-created")) > 0 ? List.of(a) : List.of(), ids(r));
    }

    @Test
    void negativeMaxEntriesIsInvalid() {
        assertEquals(Status.Code.INVALID_ARGUMENT, failure(() -> list(-1, "")).getCode());
    }
}
