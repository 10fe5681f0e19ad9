package dev.pmemcsi.app.observability;

import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceManager;
import java.util.function.BooleanSupplier;

/**
 * What {@code /healthz} and {@code /readyz} answer. Liveness: the process runs and its gRPC
 * server is up. Readiness: the device layer has initialised and its backend answers a capacity
 * reading now, so a backend that stopped answering (libndctl failing, the emulated directory
 * gone) takes the node out of service instead of failing every call.
 */
public final class HealthChecks {

    /** @param detail one line for the operator who curls the endpoint */
    public record Result(boolean ok, String detail) {}

    private final BooleanSupplier grpcUp;
    private final BooleanSupplier initialised;
    private final DeviceManager devices;

    /**
     * @param grpcUp      whether the gRPC server is serving
     * @param initialised whether the driver finished starting and the backend reports itself ready
     */
    public HealthChecks(BooleanSupplier grpcUp, BooleanSupplier initialised, DeviceManager devices) {
        this.grpcUp = grpcUp;
        this.initialised = initialised;
        this.devices = devices;
    }

    public Result liveness() {
        return grpcUp.getAsBoolean() ? new Result(true, "ok") : new Result(false, "the gRPC server is not running");
    }

    public Result readiness() {
        if (!grpcUp.getAsBoolean()) {
            return new Result(false, "the gRPC server is not running");
        }
        if (!initialised.getAsBoolean()) {
            return new Result(false, "the device layer (" + devices.backendName() + ") is still initialising");
        }
        try {
            devices.capacity();
            return new Result(true, "ok");
        } catch (DeviceException | RuntimeException e) {
            return new Result(false, "the " + devices.backendName() + " backend does not answer: " + e.getMessage());
        }
    }
}
