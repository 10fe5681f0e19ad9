package dev.pmemcsi.controller;

import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.pmemcsi.csi.v1.CapacityRange;
import dev.pmemcsi.csi.v1.ControllerGrpc;
import dev.pmemcsi.csi.v1.CreateVolumeRequest;
import dev.pmemcsi.csi.v1.Topology;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.csi.v1.VolumeCapability.AccessMode.Mode;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.InMemoryDeviceManager;
import dev.pmemcsi.driver.DriverConfig;
import dev.pmemcsi.driver.VolumeLocks;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.IOException;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.function.Executable;

/** A ControllerService behind an in-process gRPC server, over an in-memory device manager. */
final class Fixture implements AutoCloseable {

    static final String DRIVER = "pmem-csi.dev";
    static final String NODE = "node-a";
    static final String TOPOLOGY_KEY = DRIVER + "/node";
    static final long MIB = 1024L * 1024;
    static final long GIB = 1024 * MIB;

    final InMemoryDeviceManager devices;
    final VolumeLocks locks = new VolumeLocks();
    /** What the node service would report as in use, by volume ID. */
    final Map<String, String> inUse = new ConcurrentHashMap<>();
    final ControllerGrpc.ControllerBlockingStub stub;
    private final Server server;
    private final ManagedChannel channel;

    Fixture(long... regionBytes) throws IOException {
        this(new InMemoryDeviceManager(regionBytes));
    }

    Fixture(InMemoryDeviceManager devices) throws IOException {
        this(devices, devices);
    }

    /** The service talks to {@code served}, which may wrap {@code devices} to inject failures. */
    Fixture(InMemoryDeviceManager devices, DeviceManager served) throws IOException {
        this.devices = devices;
        devices.start();
        DriverConfig config = new DriverConfig(DRIVER, "test", NODE, 0);
        ControllerService service = new ControllerService(config, served, locks,
                id -> Optional.ofNullable(inUse.get(id)));
        String name = InProcessServerBuilder.generateName();
        server = InProcessServerBuilder.forName(name).directExecutor().addService(service).build().start();
        channel = InProcessChannelBuilder.forName(name).directExecutor().build();
        stub = ControllerGrpc.newBlockingStub(channel);
    }

    @Override
    public void close() {
        channel.shutdownNow();
        server.shutdownNow();
        try {
            channel.awaitTermination(5, TimeUnit.SECONDS);
            server.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            devices.close();
        }
    }

    static VolumeCapability mount(String fsType, Mode mode) {
        return VolumeCapability.newBuilder()
                .setMount(VolumeCapability.MountVolume.newBuilder().setFsType(fsType))
                .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(mode))
                .build();
    }

    static VolumeCapability mount() {
        return mount("", Mode.SINGLE_NODE_WRITER);
    }

    static VolumeCapability block(Mode mode) {
        return VolumeCapability.newBuilder()
                .setBlock(VolumeCapability.BlockVolume.getDefaultInstance())
                .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(mode))
                .build();
    }

    static Topology node(String nodeId) {
        return Topology.newBuilder().putSegments(TOPOLOGY_KEY, nodeId).build();
    }

    /** A valid request: one mount capability, no parameters. */
    static CreateVolumeRequest.Builder create(String name) {
        return CreateVolumeRequest.newBuilder().setName(name).addVolumeCapabilities(mount());
    }

    static CreateVolumeRequest.Builder create(String name, long required, long limit) {
        return create(name).setCapacityRange(
                CapacityRange.newBuilder().setRequiredBytes(required).setLimitBytes(limit));
    }

    /** The failure of {@code call}; fails the test when it succeeds. */
    static Status failure(Executable call) {
        return assertThrows(StatusRuntimeException.class, call).getStatus();
    }
}
