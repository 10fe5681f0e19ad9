package dev.pmemcsi.bench;

import dev.pmemcsi.app.IdentityService;
import dev.pmemcsi.app.observability.RpcInterceptor;
import dev.pmemcsi.controller.ControllerService;
import dev.pmemcsi.csi.v1.ControllerGrpc;
import dev.pmemcsi.csi.v1.GetCapacityRequest;
import dev.pmemcsi.csi.v1.GetCapacityResponse;
import dev.pmemcsi.csi.v1.IdentityGrpc;
import dev.pmemcsi.csi.v1.ProbeRequest;
import dev.pmemcsi.csi.v1.ProbeResponse;
import dev.pmemcsi.csi.v1.Topology;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.emulated.EmulatedDeviceManager;
import dev.pmemcsi.driver.DriverConfig;
import dev.pmemcsi.driver.VolumeLocks;
import dev.pmemcsi.driver.NodeVolumeUse;
import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The driver's own share of a Probe and a GetCapacity, without the socket: the services behind an
 * in-process transport, with and without the interceptor every call passes (metrics, logging,
 * readiness gate). Set beside the Unix-socket latencies, it shows where a call's time goes.
 * GetCapacity is answered by the emulated backend over two small sparse regions (root, as every
 * benchmark here), so the device layer's share is the real one.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k"})
public class RpcPathBenchmark {

    @Param({"true", "false"})
    public boolean intercepted;

    private Path emulatedDir;
    private EmulatedDeviceManager devices;
    private Server server;
    private ManagedChannel channel;
    private IdentityGrpc.IdentityBlockingStub identity;
    private ControllerGrpc.ControllerBlockingStub controller;
    private GetCapacityRequest capacityRequest;

    @Setup(Level.Trial)
    public void start() throws IOException, DeviceException {
        DriverConfig config = new DriverConfig(DriverConfig.DEFAULT_DRIVER_NAME, "bench", "bench-node", 0);
        emulatedDir = Files.createTempDirectory("rpc-path-bench");
        devices = new EmulatedDeviceManager(emulatedDir, List.of(64L << 20, 64L << 20));
        devices.start();
        List<BindableService> services = List.of(new IdentityService(config, true, () -> true),
                new ControllerService(config, devices, new VolumeLocks(), NodeVolumeUse.none()));
        String name = "rpc-path-" + System.nanoTime();
        InProcessServerBuilder builder = InProcessServerBuilder.forName(name).directExecutor();
        RpcInterceptor interceptor = new RpcInterceptor(new PrometheusMeterRegistry(PrometheusConfig.DEFAULT), "pmem-csi.dev", () -> true);
        for (BindableService s : services) {
            builder.addService(intercepted ? ServerInterceptors.intercept(s, interceptor) : s.bindService());
        }
        server = builder.build().start();
        channel = InProcessChannelBuilder.forName(name).directExecutor().build();
        identity = IdentityGrpc.newBlockingStub(channel);
        controller = ControllerGrpc.newBlockingStub(channel);
        capacityRequest = GetCapacityRequest.newBuilder()
                .addVolumeCapabilities(VolumeCapability.newBuilder()
                        .setAccessMode(VolumeCapability.AccessMode.newBuilder()
                                .setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER))
                        .setMount(VolumeCapability.MountVolume.newBuilder().setFsType("ext4")))
                .setAccessibleTopology(Topology.newBuilder().putAllSegments(config.topologySegment()))
                .build();
    }

    @TearDown(Level.Trial)
    public void stop() throws InterruptedException, IOException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        devices.close();
        try (Stream<Path> files = Files.walk(emulatedDir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    @Benchmark
    public ProbeResponse probe() {
        return identity.probe(ProbeRequest.getDefaultInstance());
    }

    @Benchmark
    public GetCapacityResponse getCapacity() {
        return controller.getCapacity(capacityRequest);
    }
}
