package dev.pmemcsi.pmemnative;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.concurrent.atomic.AtomicInteger;
import jnr.constants.platform.Errno;
import org.junit.jupiter.api.Test;

class NativeTest {

    @Test
    void aCallInterruptedBySignalsIsRestartedUntilItCompletes() {
        AtomicInteger calls = new AtomicInteger();
        long rc = Native.restartOnEintr(() -> {
            if (calls.incrementAndGet() <= 2) {
                Native.runtime().setLastError(Errno.EINTR.intValue());
                return -1;
            }
            return 4096;
        });
        assertEquals(4096, rc);
        assertEquals(3, calls.get());
    }

    @Test
    void anyOtherFailureIsReturnedAtOnceWithItsErrno() {
        AtomicInteger calls = new AtomicInteger();
        long rc = Native.restartOnEintr(() -> {
            calls.incrementAndGet();
            Native.runtime().setLastError(Errno.EIO.intValue());
            return -1;
        });
        assertEquals(-1, rc);
        assertEquals(1, calls.get());
        assertEquals(Errno.EIO.intValue(), Native.errno());
    }
}
