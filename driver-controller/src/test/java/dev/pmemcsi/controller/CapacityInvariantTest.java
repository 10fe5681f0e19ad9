package dev.pmemcsi.controller;

import static dev.pmemcsi.controller.Fixture.GIB;
import static dev.pmemcsi.controller.Fixture.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.pmemcsi.csi.v1.CreateVolumeRequest;
import dev.pmemcsi.csi.v1.DeleteVolumeRequest;
import dev.pmemcsi.csi.v1.GetCapacityRequest;
import dev.pmemcsi.csi.v1.GetCapacityResponse;
import dev.pmemcsi.csi.v1.ListVolumesRequest;
import dev.pmemcsi.device.Capacity;
import dev.pmemcsi.device.InMemoryDeviceManager;
import dev.pmemcsi.device.VolumeIds;
import dev.pmemcsi.device.VolumeMode;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Random create/delete sequences through the CSI service: the space accounting must stay exact,
 * every answer must honour the request, and what GetCapacity promises must be creatable.
 */
class CapacityInvariantTest {

    private static final int STEPS = 400;
    private static final int NAMES = 24;

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 42, 2024, 31337})
    void randomSequencesKeepTheAccountingExact(long seed) throws Exception {
        Random random = new Random(seed);
        int regions = 1 + random.nextInt(3);
        long[] sizes = new long[regions];
        for (int i = 0; i < regions; i++) {
            sizes[i] = (64 + random.nextInt(256)) * 16 * MIB; // 1 to 5 GiB, whole allocation units
        }
        Map<String, String> usageOf = new HashMap<>();
        Map<Status.Code, Integer> outcomes = new EnumMap<>(Status.Code.class);
        try (Fixture f = new Fixture(new InMemoryDeviceManager(sizes))) {
            long total = f.devices.capacity().totalBytes();
            for (int step = 0; step < STEPS; step++) {
                String name = "pvc-" + random.nextInt(NAMES);
                String context = "seed " + seed + " step " + step + " " + name;
                int action = random.nextInt(10);
                if (action < 5) {
                    outcomes.merge(createRandom(f, random, name, usageOf, context), 1, Integer::sum);
                } else if (action < 8) {
                    f.stub.deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(VolumeIds.fromName(name)).build());
                    usageOf.remove(name);
                } else {
                    createLargestPromised(f, random, context);
                }
                checkAccounting(f, total, context);
            }
        }
        // The sequence must have reached both ends: volumes made, and regions too full for more.
        assertTrue(outcomes.getOrDefault(Status.Code.OK, 0) > 20, outcomes.toString());
        assertTrue(outcomes.getOrDefault(Status.Code.RESOURCE_EXHAUSTED, 0) > 0, outcomes.toString());
    }

    private static Status.Code createRandom(Fixture f, Random random, String name, Map<String, String> usageOf, String context) {
        String usage = usageOf.getOrDefault(name, random.nextBoolean() ? "AppDirect" : "FileIO");
        long required = random.nextInt(4) == 0 ? 0 : (1 + random.nextInt(1536)) * MIB + random.nextInt(4096);
        long limit = random.nextInt(3) == 0 ? required + random.nextInt(64) * MIB : 0;
        if (limit == 0 && required == 0 && random.nextBoolean()) {
            limit = (32 + random.nextInt(2048)) * MIB;
        }
        CreateVolumeRequest req = Fixture.create(name, required, limit).putParameters("usage", usage).build();
        try {
            long got = f.stub.createVolume(req).getVolume().getCapacityBytes();
            assertTrue(got >= Math.max(required, 1) && (limit == 0 || got <= limit),
                    context + ": got " + got + " for [" + required + ", " + limit + "]");
            usageOf.put(name, usage);
            return Status.Code.OK;
        } catch (StatusRuntimeException e) {
            Status.Code code = e.getStatus().getCode();
            if (code != Status.Code.RESOURCE_EXHAUSTED && code != Status.Code.OUT_OF_RANGE
                    && code != Status.Code.ALREADY_EXISTS) {
                fail(context + ": unexpected " + e.getStatus());
            }
            if (code == Status.Code.ALREADY_EXISTS && !usageOf.containsKey(name)) {
                fail(context + ": ALREADY_EXISTS for a name that does not exist: " + e.getStatus());
            }
            return code;
        }
    }

    /** GetCapacity's maximum_volume_size must be creatable at that moment. */
    private static void createLargestPromised(Fixture f, Random random, String context) {
        String usage = random.nextBoolean() ? "AppDirect" : "FileIO";
        GetCapacityResponse cap = f.stub.getCapacity(GetCapacityRequest.newBuilder().putParameters("usage", usage).build());
        long max = cap.getMaximumVolumeSize().getValue();
        assertTrue(max <= cap.getAvailableCapacity(), context);
        if (max == 0) {
            return;
        }
        long got = f.stub.createVolume(Fixture.create("largest", max, 0).putParameters("usage", usage).build())
                .getVolume().getCapacityBytes();
        assertTrue(got >= max, context);
        f.stub.deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(VolumeIds.fromName("largest")).build());
    }

    private static void checkAccounting(Fixture f, long total, String context) throws Exception {
        Capacity c = f.devices.capacity();
        assertEquals(total, c.totalBytes(), context);
        assertEquals(total, c.availableBytes() + c.usedBytes(), context + ": available + used != total");
        long allocated = f.devices.listVolumes().stream().mapToLong(dev.pmemcsi.device.PmemVolume::allocatedBytes).sum();
        assertEquals(c.usedBytes(), allocated, context + ": used != sum of volume allocations");
        assertEquals(f.devices.listVolumes().size(),
                f.stub.listVolumes(ListVolumesRequest.getDefaultInstance()).getEntriesCount(), context);
        GetCapacityResponse reported = f.stub.getCapacity(GetCapacityRequest.getDefaultInstance());
        assertEquals(c.requestable(VolumeMode.FSDAX).availableBytes(), reported.getAvailableCapacity(), context);
    }
}
