package dev.pmemcsi.driver;

import dev.pmemcsi.device.DeviceBusyException;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.DeviceGoneException;
import dev.pmemcsi.device.NoSpaceException;
import dev.pmemcsi.device.OutOfRangeException;
import dev.pmemcsi.device.VolumeExistsException;
import dev.pmemcsi.device.VolumeInUseException;
import dev.pmemcsi.device.VolumeNotFoundException;
import dev.pmemcsi.pmemnative.CommandFailedException;
import dev.pmemcsi.pmemnative.NativeException;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import jnr.constants.platform.Errno;

/**
 * Where a service call meets gRPC: the services' use cases throw typed exceptions and return
 * responses, and this class alone turns them into an answer with the code the CSI spec
 * prescribes. The server's interceptor logs and times every call, so nothing is logged here: a
 * failure's exception travels to it as the status's cause (never to the client).
 */
public final class RpcEdge {

    private RpcEdge() {}

    /** One RPC's work. */
    @FunctionalInterface
    public interface Call<T> {
        T run() throws Exception;
    }

    /** Runs {@code call} and answers the observer with its response or the status of its failure. */
    public static <T> void answer(StreamObserver<T> observer, Call<T> call) {
        T response;
        try {
            response = call.run();
        } catch (Exception e) {
            observer.onError(statusOf(e).asRuntimeException());
            return;
        }
        observer.onNext(response);
        observer.onCompleted();
    }

    /** The status a failure is answered with; its description is the exception's message. */
    public static Status statusOf(Throwable e) {
        Status status = codeOf(e);
        if (status.getCode() == Status.Code.INTERNAL) {
            return status.withDescription(describeUnexpected(e)).withCause(e);
        }
        return status.withDescription(e.getMessage());
    }

    /**
     * The driver's own failures (device, native call, external tool) carry messages that name what
     * failed; anything else is prefixed with its class, which its message alone may not say.
     */
    private static String describeUnexpected(Throwable e) {
        boolean selfDescribing = e instanceof DeviceException || e instanceof NativeException
                || e instanceof CommandFailedException;
        if (e.getMessage() == null) {
            return e.getClass().getSimpleName();
        }
        return selfDescribing ? e.getMessage() : e.getClass().getSimpleName() + ": " + e.getMessage();
    }

    private static Status codeOf(Throwable e) {
        if (e instanceof InvalidRequestException) {
            return Status.INVALID_ARGUMENT;
        }
        if (e instanceof PreconditionFailedException) {
            return Status.FAILED_PRECONDITION;
        }
        if (e instanceof OperationInProgressException || e instanceof InvalidStartingTokenException
                || e instanceof FreezeExpiredException) {
            return Status.ABORTED;
        }
        if (e instanceof NodeExcludedException) {
            return Status.RESOURCE_EXHAUSTED;
        }
        if (e instanceof NotOfferedException) {
            return Status.UNIMPLEMENTED;
        }
        if (e instanceof VolumeNotFoundException) {
            return Status.NOT_FOUND;
        }
        if (e instanceof VolumeExistsException) {
            return Status.ALREADY_EXISTS;
        }
        if (e instanceof NoSpaceException) {
            return Status.RESOURCE_EXHAUSTED;
        }
        if (e instanceof OutOfRangeException) {
            return Status.OUT_OF_RANGE;
        }
        if (e instanceof VolumeInUseException || e instanceof DeviceGoneException) {
            return Status.FAILED_PRECONDITION;
        }
        if (e instanceof DeviceBusyException) {
            return Status.ABORTED;
        }
        if (e instanceof NativeException n && n.is(Errno.ENOENT)) {
            // A path or device the request relies on has vanished: the caller's state is stale.
            return Status.FAILED_PRECONDITION;
        }
        return Status.INTERNAL;
    }
}
