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
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** A started NodeService behind an in-process gRPC server, and a blocking client of it. */
final class InProcessNode implements AutoCloseable {

    static final DriverConfig CONFIG = new DriverConfig("pmem-csi.dev", "test", "node-1", 0);

    final NodeService service;
    final VolumeLocks locks;
    final NodeGrpc.NodeBlockingStub stub;
    private final Server server;
    private final ManagedChannel channel;

    InProcessNode(DeviceManager devices, Path stateDir) throws IOException {
        this(CONFIG, devices, stateDir);
    }

    InProcessNode(DriverConfig config, DeviceManager devices, Path stateDir) throws IOException {
        locks = new VolumeLocks();
        service = new NodeService(config, devices, locks, stateDir);
        service.start();
        String name = InProcessServerBuilder.generateName();
        server = InProcessServerBuilder.forName(name).directExecutor().addService(service).build().start();
        channel = InProcessChannelBuilder.forName(name).directExecutor().build();
        stub = NodeGrpc.newBlockingStub(channel);
    }

    @Override
    public void close() throws InterruptedException {
        channel.shutdownNow();
        server.shutdownNow();
        server.awaitTermination(5, TimeUnit.SECONDS);
    }
}
