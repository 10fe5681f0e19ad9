package dev.pmemcsi.controller;

import static dev.pmemcsi.controller.Fixture.GIB;
import static dev.pmemcsi.controller.Fixture.MIB;
import static dev.pmemcsi.controller.Fixture.create;
import static dev.pmemcsi.controller.Fixture.failure;
import static dev.pmemcsi.controller.Fixture.mount;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.csi.v1.CreateVolumeRequest;
import dev.pmemcsi.csi.v1.ListVolumesRequest;
import dev.pmemcsi.csi.v1.Volume;
import dev.pmemcsi.csi.v1.VolumeCapability.AccessMode.Mode;
import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.InMemoryDeviceManager;
import dev.pmemcsi.device.VolumeMode;
import io.grpc.Status;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A capacity_range with {@code required_bytes == limit_bytes} is served with exactly that
 * capacity, whatever the allocation unit: the device may be larger, the reported capacity is not.
 * Regions of 16 MiB allocation units are what the emulated backend and most PMEM use; 48 MiB is
 * what the ndctl backend computes for a 3-way interleaved region (lcm of 3 × 2 MiB and 16 MiB).
 * A size below one allocation unit's usable bytes (GetCapacity's minimum_volume_size) is OUT_OF_RANGE.
 */
class ExactSizeTest {

    private static final long[] SIZES_MIB = {16, 64, 100, 256, 512, 1024, 2048};
    private static final long[] ALIGNMENTS = {16 * MIB, 48 * MIB};

    static Stream<Arguments> sizes() {
        Stream.Builder<Arguments> out = Stream.builder();
        for (long align : ALIGNMENTS) {
            for (long mib : SIZES_MIB) {
                for (String usage : new String[] {"AppDirect", "FileIO"}) {
                    out.add(Arguments.of(align, mib * MIB, usage));
                }
            }
        }
        return out.build();
    }

    /** GetCapacity's minimum_volume_size: the usable bytes of one allocation unit. */
    private static long minimum(long alignment, String usage) {
        return CapacityMath.minimumCapacity(usage.equals("FileIO") ? VolumeMode.SECTOR : VolumeMode.FSDAX, alignment);
    }

    @ParameterizedTest(name = "alignment {0}, {1} bytes, {2}")
    @MethodSource("sizes")
    void requiredEqualToLimitIsServedWithExactlyThatCapacity(long alignment, long bytes, String usage) throws Exception {
        try (Fixture f = new Fixture(new InMemoryDeviceManager(alignment, new long[] {8 * GIB, 4 * GIB}))) {
            CreateVolumeRequest req = create("pvc-exact", bytes, bytes).putParameters("usage", usage).build();
            if (bytes < minimum(alignment, usage)) {
                Status s = failure(() -> f.stub.createVolume(req));
                assertEquals(Status.Code.OUT_OF_RANGE, s.getCode(), "below one allocation unit: " + s);
                assertTrue(s.getDescription().contains("smallest"), s.getDescription());
                return;
            }
            Volume v = f.stub.createVolume(req).getVolume();
            assertEquals(bytes, v.getCapacityBytes());
            dev.pmemcsi.device.PmemVolume dev = f.devices.getVolume(v.getVolumeId()).orElseThrow();
            assertTrue(dev.usableBytes() >= bytes, "the device offers at least the capacity: " + dev);

            assertEquals(v, f.stub.createVolume(req).getVolume(), "a repeat reports the same capacity");
            assertEquals(bytes, f.stub.listVolumes(ListVolumesRequest.getDefaultInstance()).getEntries(0)
                    .getVolume().getCapacityBytes(), "ListVolumes reports the same capacity");
            assertEquals(Status.Code.ALREADY_EXISTS, failure(() -> f.stub.createVolume(
                    create("pvc-exact", 2 * bytes, 2 * bytes).putParameters("usage", usage).build())).getCode(),
                    "the same name with another exact size");
        }
    }

    @ParameterizedTest(name = "alignment {0}, {1} bytes, {2}")
    @MethodSource("sizes")
    void aRangeIsServedWithinItsBounds(long alignment, long bytes, String usage) throws Exception {
        try (Fixture f = new Fixture(new InMemoryDeviceManager(alignment, new long[] {8 * GIB, 4 * GIB}))) {
            long limit = Math.max(bytes, minimum(alignment, usage)) + 1 * MIB + 1;
            Volume v = f.stub.createVolume(create("pvc-range", limit - 1 * MIB, limit)
                    .putParameters("usage", usage).build()).getVolume();
            assertTrue(v.getCapacityBytes() >= limit - 1 * MIB && v.getCapacityBytes() <= limit, v.toString());
        }
    }

    @org.junit.jupiter.api.Test
    void xfsExactSizesBelowItsMinimumAreOutOfRangeAndAboveAreExact() throws Exception {
        try (Fixture f = new Fixture(8 * GIB)) {
            Status s = failure(() -> f.stub.createVolume(CreateVolumeRequest.newBuilder().setName("pvc-xfs")
                    .addVolumeCapabilities(mount("xfs", Mode.SINGLE_NODE_WRITER))
                    .setCapacityRange(dev.pmemcsi.csi.v1.CapacityRange.newBuilder()
                            .setRequiredBytes(256 * MIB).setLimitBytes(256 * MIB)).build()));
            assertEquals(Status.Code.OUT_OF_RANGE, s.getCode());
            assertTrue(s.getDescription().contains("xfs"), s.getDescription());
            Volume v = f.stub.createVolume(CreateVolumeRequest.newBuilder().setName("pvc-xfs")
                    .addVolumeCapabilities(mount("xfs", Mode.SINGLE_NODE_WRITER))
                    .setCapacityRange(dev.pmemcsi.csi.v1.CapacityRange.newBuilder()
                            .setRequiredBytes(GIB).setLimitBytes(GIB)).build()).getVolume();
            assertEquals(GIB, v.getCapacityBytes());
        }
    }
}
