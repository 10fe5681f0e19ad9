package dev.pmemcsi.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.csi.v1.GetPluginCapabilitiesRequest;
import dev.pmemcsi.csi.v1.GetPluginInfoRequest;
import dev.pmemcsi.csi.v1.IdentityGrpc;
import dev.pmemcsi.csi.v1.PluginCapability;
import dev.pmemcsi.csi.v1.ProbeRequest;
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
        return start(controller, false);
    }

    private IdentityGrpc.IdentityBlockingStub start(boolean controller, boolean expansion) throws Exception {
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
    void onlineExpansionIsAdvertisedOnlyWhenTheBackendGrowsVolumes() throws Exception {
        var without = start(true, false).getPluginCapabilities(GetPluginCapabilitiesRequest.getDefaultInstance());
        assertTrue(without.getCapabilitiesList().stream().noneMatch(PluginCapability::hasVolumeExpansion));
        stop();
        var with = start(true, true).getPluginCapabilities(GetPluginCapabilitiesRequest.getDefaultInstance());
        assertEquals(List.of(PluginCapability.VolumeExpansion.Type.ONLINE), with.getCapabilitiesList().stream()
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
