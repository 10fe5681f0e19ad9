package dev.pmemcsi.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.ListenableFuture;
import dev.pmemcsi.app.client.Channels;
import dev.pmemcsi.csi.v1.CapacityRange;
import dev.pmemcsi.csi.v1.ControllerGetCapabilitiesRequest;
import dev.pmemcsi.csi.v1.ControllerGrpc;
import dev.pmemcsi.csi.v1.CreateVolumeRequest;
import dev.pmemcsi.csi.v1.CreateVolumeResponse;
import dev.pmemcsi.csi.v1.GetPluginCapabilitiesRequest;
import dev.pmemcsi.csi.v1.GetPluginInfoRequest;
import dev.pmemcsi.csi.v1.IdentityGrpc;
import dev.pmemcsi.csi.v1.NodeGetCapabilitiesRequest;
import dev.pmemcsi.csi.v1.NodeGetInfoRequest;
import dev.pmemcsi.csi.v1.NodeGrpc;
import dev.pmemcsi.csi.v1.ProbeRequest;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceManager;
import dev.pmemcsi.device.InMemoryDeviceManager;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Calls that reach the socket while the device layer is still starting (recovering its volumes
 * after a restart, which takes long on a slow node): calls that only describe the driver answer at
 * once, calls on volumes wait for the device layer instead of failing, bounded by their deadline.
 */
class DriverStartupIT {

    private static final long MIB = 1024L * 1024;

    @TempDir
    Path dir;

    private final CountDownLatch release = new CountDownLatch(1);
    private volatile DeviceException startFails;
    private Driver driver;
    private Channels channels;
    private final CompletableFuture<Throwable> started = new CompletableFuture<>();

    /** Starts a driver whose device layer starts only when {@link #release} opens; waits for its socket. */
    private void startSlowDriver() throws Exception {
        InMemoryDeviceManager memory = new InMemoryDeviceManager(new long[] {512 * MIB});
        DeviceManager slow = (DeviceManager) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {DeviceManager.class}, (proxy, method, args) -> {
                    if (method.getName().equals("start")) {
                        release.await();
                        if (startFails != null) {
                            throw startFails;
                        }
                    }
                    try {
                        return method.invoke(memory, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        DriverOptions o = new DriverOptions();
        o.nodeId = "node-a";
        o.stateDir = dir.resolve("state");
        o.kubeletDir = Files.createDirectories(dir.resolve("kubelet"));
        // Fewer threads than waiting calls: a waiting call must not hold one.
        o.maxConcurrentCalls = 2;
        driver = new Driver(o, slow);
        Path socket = dir.resolve("csi.sock");
        Thread t = new Thread(() -> {
            try {
                driver.start(new Endpoint.Unix(socket));
                started.complete(null);
            } catch (Throwable e) {
                started.complete(e);
            }
        }, "driver-start");
        t.setDaemon(true);
        t.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!Files.exists(socket)) {
            assertTrue(System.nanoTime() < deadline, "no socket within 30 s");
            Thread.sleep(20);
        }
        channels = Channels.open("unix://" + socket);
    }

    @AfterEach
    void stop() throws Exception {
        release.countDown();
        if (channels != null) {
            channels.close();
        }
        if (driver != null) {
            started.get(30, TimeUnit.SECONDS);
            driver.close();
        }
    }

    private static CreateVolumeRequest create(String name) {
        return CreateVolumeRequest.newBuilder().setName(name)
                .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(64 * MIB))
                .addVolumeCapabilities(VolumeCapability.newBuilder()
                        .setAccessMode(VolumeCapability.AccessMode.newBuilder()
                                .setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER))
                        .setMount(VolumeCapability.MountVolume.newBuilder().setFsType("ext4")))
                .build();
    }

    private IdentityGrpc.IdentityBlockingStub identity() {
        return IdentityGrpc.newBlockingStub(channels.channel()).withDeadlineAfter(2, TimeUnit.SECONDS);
    }

    @Test
    void describingCallsAnswerAtOnceAndVolumeCallsWaitForTheDeviceLayer() throws Exception {
        startSlowDriver();
        long t0 = System.nanoTime();
        assertEquals("pmem-csi.dev", identity().getPluginInfo(GetPluginInfoRequest.getDefaultInstance()).getName());
        assertTrue(identity().getPluginCapabilities(GetPluginCapabilitiesRequest.getDefaultInstance())
                .getCapabilitiesCount() > 0);
        assertFalse(identity().probe(ProbeRequest.getDefaultInstance()).getReady().getValue(), "not ready yet");
        NodeGrpc.NodeBlockingStub node = NodeGrpc.newBlockingStub(channels.channel()).withDeadlineAfter(2, TimeUnit.SECONDS);
        assertEquals("node-a", node.nodeGetInfo(NodeGetInfoRequest.getDefaultInstance()).getNodeId());
        assertTrue(node.nodeGetCapabilities(NodeGetCapabilitiesRequest.getDefaultInstance()).getCapabilitiesCount() > 0);
        assertTrue(ControllerGrpc.newBlockingStub(channels.channel()).withDeadlineAfter(2, TimeUnit.SECONDS)
                .controllerGetCapabilities(ControllerGetCapabilitiesRequest.getDefaultInstance()).getCapabilitiesCount() > 0);

        // More waiting calls than the server has threads.
        List<ListenableFuture<CreateVolumeResponse>> waiting = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            waiting.add(ControllerGrpc.newFutureStub(channels.channel()).withDeadlineAfter(60, TimeUnit.SECONDS)
                    .createVolume(create("pvc-" + i)));
        }
        StatusRuntimeException late = assertThrows(StatusRuntimeException.class, () -> ControllerGrpc
                .newBlockingStub(channels.channel()).withDeadlineAfter(300, TimeUnit.MILLISECONDS)
                .createVolume(create("pvc-short")));
        assertEquals(Status.Code.DEADLINE_EXCEEDED, late.getStatus().getCode());
        assertEquals("pmem-csi.dev", identity().getPluginInfo(GetPluginInfoRequest.getDefaultInstance()).getName(),
                "the waiting calls hold none of the server's threads");
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5), "the describing calls did not wait");
        for (ListenableFuture<CreateVolumeResponse> f : waiting) {
            assertFalse(f.isDone(), "a volume call answered before the device layer started");
        }

        release.countDown();
        assertEquals(null, started.get(30, TimeUnit.SECONDS));
        for (int i = 0; i < waiting.size(); i++) {
            long size = waiting.get(i).get(30, TimeUnit.SECONDS).getVolume().getCapacityBytes();
            assertTrue(size >= 64 * MIB, "pvc-" + i + " was created once the device layer was up: " + size);
        }
        assertTrue(identity().probe(ProbeRequest.getDefaultInstance()).getReady().getValue());
    }

    @Test
    void waitingCallsAreUnavailableWhenTheDeviceLayerFailsToStart() throws Exception {
        startSlowDriver();
        ListenableFuture<CreateVolumeResponse> waiting = ControllerGrpc.newFutureStub(channels.channel())
                .withDeadlineAfter(60, TimeUnit.SECONDS).createVolume(create("pvc-0"));
        Thread.sleep(300);
        assertFalse(waiting.isDone());
        startFails = new DeviceException("no NVDIMM bus: load the nfit and nd_pmem modules");
        release.countDown();
        ExecutionException e = assertThrows(ExecutionException.class, () -> waiting.get(30, TimeUnit.SECONDS));
        Status s = Status.fromThrowable(e.getCause());
        assertEquals(Status.Code.UNAVAILABLE, s.getCode());
        assertTrue(s.getDescription().contains("failed to start: no NVDIMM bus"), s.getDescription());
        assertTrue(started.get(30, TimeUnit.SECONDS) instanceof DeviceException);
    }
}
