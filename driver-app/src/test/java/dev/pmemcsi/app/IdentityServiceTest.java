package dev.pmemcsi.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.csi.v1.GetPluginCapabilitiesRequest;
import dev.pmemcsi.csi.v1.GetPluginInfoRequest;
import dev.pmemcsi.csi.v1.IdentityGrpc;
import dev.pmemcsi.csi.v1.PluginCapability;
import dev.pmemcsi.csi.v1.ProbeRequest;
import dev.pmemcsi.device.DeviceManager.Expansion;
import dev.pmemcsi.driver.DriverConfig;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class IdentityServiceTest {

    private final DriverConfig config = new DriverConfig("pmem-csi.dev", "1.2.3", "node-a", 0);
    private final AtomicBoolean ready = new AtomicBoolean();
    private Server server;
    private ManagedChannel channel;

    private IdentityGrpc.IdentityBlockingStub start(boolean controller) throws Exception {
        return start(controller, Expansion.NONE);
    }

    private IdentityGrpc.IdentityBlockingStub start(boolean controller, Expansion expansion) throws Exception {
        String name = InProcessServerBuilder.generateName();
        server = InProcessServerBuilder.forName(name).directExecutor()
                .addService(new IdentityService(config, controller, expansion, ready::get)).build().start();
        channel = InProcessChannelBuilder.forName(name).directExecutor().build();
        return IdentityGrpc.newBlockingStub(channel);
    }

    @AfterEach
    void stop() {
        channel.shutdownNow();
        server.shutdownNow();
    }

    @Test
    void pluginInfoNamesTheDriverAndItsVersion() throws Exception {
        var info = start(true).getPluginInfo(GetPluginInfoRequest.getDefaultInstance());
        assertEquals("pmem-csi.dev", info.getName());
        assertEquals("1.2.3", info.getVendorVersion());
    }

    @Test
    void capabilitiesFollowTheServicesThatRun() throws Exception {
        var both = start(true).getPluginCapabilities(GetPluginCapabilitiesRequest.getDefaultInstance());
        assertEquals(List.of(PluginCapability.Service.Type.CONTROLLER_SERVICE,
                        PluginCapability.Service.Type.VOLUME_ACCESSIBILITY_CONSTRAINTS),
                both.getCapabilitiesList().stream().map(c -> c.getService().getType()).toList());
        stop();
        var nodeOnly = start(false).getPluginCapabilities(GetPluginCapabilitiesRequest.getDefaultInstance());
        assertEquals(List.of(PluginCapability.Service.Type.VOLUME_ACCESSIBILITY_CONSTRAINTS),
                nodeOnly.getCapabilitiesList().stream().map(c -> c.getService().getType()).toList());
    }

    @Test
    void expansionIsAdvertisedAsTheBackendGrowsVolumes() throws Exception {
        var without = start(true, Expansion.NONE).getPluginCapabilities(GetPluginCapabilitiesRequest.getDefaultInstance());
        assertTrue(without.getCapabilitiesList().stream().noneMatch(PluginCapability::hasVolumeExpansion));
        stop();
        var with = start(true, Expansion.ONLINE).getPluginCapabilities(GetPluginCapabilitiesRequest.getDefaultInstance());
        assertEquals(List.of(PluginCapability.VolumeExpansion.Type.ONLINE), with.getCapabilitiesList().stream()
                .filter(PluginCapability::hasVolumeExpansion).map(c -> c.getVolumeExpansion().getType()).toList());
        stop();
        // Direct mode moves a volume to grow it, so it cannot while a pod uses the volume.
        var offline = start(true, Expansion.OFFLINE).getPluginCapabilities(GetPluginCapabilitiesRequest.getDefaultInstance());
        assertEquals(List.of(PluginCapability.VolumeExpansion.Type.OFFLINE), offline.getCapabilitiesList().stream()
                .filter(PluginCapability::hasVolumeExpansion).map(c -> c.getVolumeExpansion().getType()).toList());
    }

    @Test
    void probeIsReadyOnlyOnceTheDeviceLayerIs() throws Exception {
        var stub = start(true);
        assertFalse(stub.probe(ProbeRequest.getDefaultInstance()).getReady().getValue());
        ready.set(true);
        assertTrue(stub.probe(ProbeRequest.getDefaultInstance()).getReady().getValue());
    }
}
