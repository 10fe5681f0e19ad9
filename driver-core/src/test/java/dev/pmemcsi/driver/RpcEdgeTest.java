package dev.pmemcsi.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.pmemcsi.device.DeviceBusyException;
import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.NoSpaceException;
import dev.pmemcsi.device.OutOfRangeException;
import dev.pmemcsi.device.VolumeExistsException;
import dev.pmemcsi.device.VolumeInUseException;
import dev.pmemcsi.device.VolumeNotFoundException;
import dev.pmemcsi.pmemnative.CommandFailedException;
import dev.pmemcsi.pmemnative.NativeException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import jnr.constants.platform.Errno;
import org.junit.jupiter.api.Test;

class RpcEdgeTest {

    @Test
    void eachTypedFailureGetsTheCodeTheSpecPrescribes() {
        assertEquals(Status.Code.INVALID_ARGUMENT, code(new InvalidRequestException("x")));
        assertEquals(Status.Code.FAILED_PRECONDITION, code(new PreconditionFailedException("x")));
        assertEquals(Status.Code.ABORTED, code(OperationInProgressException.onVolume("v")));
        assertEquals(Status.Code.NOT_FOUND, code(new VolumeNotFoundException("x")));
        assertEquals(Status.Code.ALREADY_EXISTS, code(new VolumeExistsException("x")));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, code(new NoSpaceException("x")));
        assertEquals(Status.Code.OUT_OF_RANGE, code(new OutOfRangeException("x")));
        assertEquals(Status.Code.FAILED_PRECONDITION, code(new VolumeInUseException("x")));
        assertEquals(Status.Code.ABORTED, code(new DeviceBusyException("x")));
        assertEquals(Status.Code.FAILED_PRECONDITION, code(new NativeException("stat", Errno.ENOENT.intValue(), "/dev/pmem9")));
        assertEquals(Status.Code.INTERNAL, code(new NativeException("mount", Errno.EIO.intValue(), "/mnt")));
        assertEquals(Status.Code.INTERNAL, code(new CommandFailedException(List.of("mkfs.xfs"), 1, "bad")));
        assertEquals(Status.Code.INTERNAL, code(new IOException("disk full")));
    }

    @Test
    void theControllersRefusalsGetTheirCodes() {
        assertEquals(Status.Code.ABORTED, code(new InvalidStartingTokenException("x")));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, code(new NodeExcludedException("x")));
        assertEquals(Status.Code.UNIMPLEMENTED, code(new NotOfferedException("x")));
        assertEquals(Status.Code.OUT_OF_RANGE, code(new VolumeCapabilities.SizeBelowMinimumException("x")));
        assertEquals("x", RpcEdge.statusOf(new NotOfferedException("x")).getDescription());
    }

    @Test
    void anUnexpectedFailureKeepsItsExceptionAsTheCauseForTheLogOnly() {
        IOException e = new IOException("disk full");
        Status s = RpcEdge.statusOf(e);
        assertEquals("IOException: disk full", s.getDescription());
        assertSame(e, s.getCause());
        assertEquals("volume v: gone", RpcEdge.statusOf(new DeviceException("volume v: gone")).getDescription());
        assertNull(RpcEdge.statusOf(new InvalidRequestException("bad")).getCause());
        assertEquals("bad", RpcEdge.statusOf(new InvalidRequestException("bad")).getDescription());
    }

    @Test
    void answerSendsTheResponseOrTheStatusOnce() {
        Recorder<String> ok = new Recorder<>();
        RpcEdge.answer(ok, () -> "done");
        assertEquals(List.of("next:done", "completed"), ok.events);

        Recorder<String> failed = new Recorder<>();
        RpcEdge.answer(failed, () -> {
            throw new VolumeNotFoundException("volume v does not exist");
        });
        assertEquals(List.of("error:NOT_FOUND:volume v does not exist"), failed.events);
    }

    private static Status.Code code(Exception e) {
        return RpcEdge.statusOf(e).getCode();
    }

    private static final class Recorder<T> implements StreamObserver<T> {
        final List<String> events = new ArrayList<>();

        @Override
        public void onNext(T value) {
            events.add("next:" + value);
        }

        @Override
        public void onError(Throwable t) {
            Status s = ((StatusRuntimeException) t).getStatus();
            events.add("error:" + s.getCode() + ":" + s.getDescription());
        }

        @Override
        public void onCompleted() {
            events.add("completed");
        }
    }
}
