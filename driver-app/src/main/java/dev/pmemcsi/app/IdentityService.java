package dev.pmemcsi.app;

import com.google.protobuf.BoolValue;
import dev.pmemcsi.csi.v1.GetPluginCapabilitiesRequest;
import dev.pmemcsi.csi.v1.GetPluginCapabilitiesResponse;
import dev.pmemcsi.csi.v1.GetPluginInfoRequest;
import dev.pmemcsi.csi.v1.GetPluginInfoResponse;
import dev.pmemcsi.csi.v1.IdentityGrpc;
import dev.pmemcsi.csi.v1.PluginCapability;
import dev.pmemcsi.csi.v1.ProbeRequest;
import dev.pmemcsi.csi.v1.ProbeResponse;
import dev.pmemcsi.device.DeviceManager.Expansion;
import dev.pmemcsi.driver.DriverConfig;
import io.grpc.stub.StreamObserver;
import java.util.function.BooleanSupplier;

/** CSI Identity: who the driver is, what it offers, and whether it is ready. */
public final class IdentityService extends IdentityGrpc.IdentityImplBase {

    private final DriverConfig config;
    private final boolean controller;
    private final Expansion expansion;
    private final BooleanSupplier ready;

    public IdentityService(DriverConfig config, boolean controller, BooleanSupplier ready) {
        this(config, controller, Expansion.NONE, ready);
    }

    /** @param expansion how the backend grows volumes: the plugin capability says it as it is */
    public IdentityService(DriverConfig config, boolean controller, Expansion expansion, BooleanSupplier ready) {
        this.config = config;
        this.controller = controller;
        this.expansion = expansion;
        this.ready = ready;
    }

    @Override
    public void getPluginInfo(GetPluginInfoRequest request, StreamObserver<GetPluginInfoResponse> response) {
        response.onNext(GetPluginInfoResponse.newBuilder()
                .setName(config.driverName())
                .setVendorVersion(config.version())
                .build());
        response.onCompleted();
    }

    @Override
    public void getPluginCapabilities(GetPluginCapabilitiesRequest request,
                                      StreamObserver<GetPluginCapabilitiesResponse> response) {
        GetPluginCapabilitiesResponse.Builder b = GetPluginCapabilitiesResponse.newBuilder();
        if (controller) {
            b.addCapabilities(service(PluginCapability.Service.Type.CONTROLLER_SERVICE));
        }
        b.addCapabilities(service(PluginCapability.Service.Type.VOLUME_ACCESSIBILITY_CONSTRAINTS));
        if (expansion != Expansion.NONE) {
            // ONLINE: a volume may grow while a pod uses it (the backend refuses only a move then).
            // OFFLINE: only while no pod uses it (direct mode moves every volume that grows).
            b.addCapabilities(PluginCapability.newBuilder().setVolumeExpansion(PluginCapability.VolumeExpansion
                    .newBuilder().setType(expansion == Expansion.ONLINE ? PluginCapability.VolumeExpansion.Type.ONLINE
                            : PluginCapability.VolumeExpansion.Type.OFFLINE)).build());
        }
        response.onNext(b.build());
        response.onCompleted();
    }

    private static PluginCapability service(PluginCapability.Service.Type type) {
        return PluginCapability.newBuilder().setService(PluginCapability.Service.newBuilder().setType(type)).build();
    }

    @Override
    public void probe(ProbeRequest request, StreamObserver<ProbeResponse> response) {
        response.onNext(ProbeResponse.newBuilder().setReady(BoolValue.of(ready.getAsBoolean())).build());
        response.onCompleted();
    }
}
