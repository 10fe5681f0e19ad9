package dev.pmemcsi.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class EndpointTest {

    @Test
    void parsesUnixAndTcp() {
        assertEquals(new Endpoint.Unix(Path.of("/csi/csi.sock")), Endpoint.parse("unix:///csi/csi.sock"));
        assertEquals(new Endpoint.Unix(Path.of("/csi/csi.sock")), Endpoint.parse("unix:///csi/../csi/csi.sock"));
        assertEquals(new Endpoint.Tcp("127.0.0.1", 10000), Endpoint.parse("tcp://127.0.0.1:10000"));
    }

    @Test
    void rejectsMalformedEndpoints() {
        assertThrows(IllegalArgumentException.class, () -> Endpoint.parse("unix://relative/csi.sock"));
        assertThrows(IllegalArgumentException.class, () -> Endpoint.parse("tcp://host-without-port"));
        assertThrows(IllegalArgumentException.class, () -> Endpoint.parse("http://x:1"));
        assertThrows(IllegalArgumentException.class, () -> Endpoint.parse(""));
    }
}
