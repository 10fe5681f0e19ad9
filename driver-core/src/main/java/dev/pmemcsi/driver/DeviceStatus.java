package dev.pmemcsi.driver;

import dev.pmemcsi.device.DeviceBusyException;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceGoneException;
import dev.pmemcsi.device.NoSpaceException;
import dev.pmemcsi.device.OutOfRangeException;
import dev.pmemcsi.device.VolumeExistsException;
import dev.pmemcsi.device.VolumeInUseException;
import dev.pmemcsi.device.VolumeNotFoundException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/** The RPC edge: device-layer failures become the gRPC codes the CSI spec prescribes. */
public final class DeviceStatus {

    private DeviceStatus() {}

    public static StatusRuntimeException toStatus(DeviceException e) {
        Status status;
        if (e instanceof VolumeNotFoundException) {
            status = Status.NOT_FOUND;
        } else if (e instanceof VolumeExistsException) {
            status = Status.ALREADY_EXISTS;
        } else if (e instanceof NoSpaceException) {
            status = Status.RESOURCE_EXHAUSTED;
        } else if (e instanceof OutOfRangeException) {
            status = Status.OUT_OF_RANGE;
        } else if (e instanceof VolumeInUseException) {
            status = Status.FAILED_PRECONDITION;
        } else if (e instanceof DeviceBusyException) {
            status = Status.ABORTED;
        } else if (e instanceof DeviceGoneException) {
            status = Status.FAILED_PRECONDITION;
        } else {
            status = Status.INTERNAL;
        }
        return status.withDescription(e.getMessage()).asRuntimeException();
    }

    public static StatusRuntimeException invalid(InvalidRequestException e) {
        return Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException();
    }

    /** The answer to a second operation on a volume while one runs. */
    public static StatusRuntimeException busy(String volumeId) {
        return Status.ABORTED
                .withDescription("an operation for volume " + volumeId + " is already in progress")
                .asRuntimeException();
    }
}
