package dev.pmemcsi.node;

import dev.pmemcsi.csi.v1.NodeGrpc;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.driver.DriverConfig;
import dev.pmemcsi.driver.VolumeLocks;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A started NodeService behind an in-process gRPC server, and a blocking client of it. */
final class InProcessNode implements AutoCloseable {

    static final DriverConfig CONFIG = new DriverConfig("pmem-csi.dev", "test", "node-1", 0);

    final NodeService service;
    final VolumeLocks locks;
    final NodeGrpc.NodeBlockingStub stub;
    private final Server server;
    private final ManagedChannel channel;

    /** @param kubeletDir plays kubelet's root directory; created when missing */
    InProcessNode(DeviceManager devices, Path stateDir, Path kubeletDir) throws IOException {
        this(CONFIG, devices, stateDir, kubeletDir);
    }

    InProcessNode(DriverConfig config, DeviceManager devices, Path stateDir, Path kubeletDir) throws IOException {
        this(config, devices, stateDir, kubeletDir, List.of());
    }

    /** @param reserved the driver's other directories (emulated regions, socket), kept out of reach */
    InProcessNode(DriverConfig config, DeviceManager devices, Path stateDir, Path kubeletDir, List<Path> reserved)
            throws IOException {
        locks = new VolumeLocks();
        Files.createDirectories(kubeletDir);
        service = new NodeService(config, devices, locks, stateDir, NodePaths.confinedTo(kubeletDir, reserved));
        service.start();
        String name = InProcessServerBuilder.generateName();
        server = InProcessServerBuilder.forName(name).directExecutor().addService(service).build().start();
        channel = InProcessChannelBuilder.forName(name).directExecutor().build();
        stub = NodeGrpc.newBlockingStub(channel);
    }

    static NodePaths paths(Path kubeletDir) throws IOException {
        Files.createDirectories(kubeletDir);
        return NodePaths.confinedTo(kubeletDir, List.of());
    }

    @Override
    public void close() throws InterruptedException {
        channel.shutdownNow();
        server.shutdownNow();
        server.awaitTermination(5, TimeUnit.SECONDS);
    }
}
