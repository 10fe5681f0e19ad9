package dev.pmemcsi.app;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;

/** Where the gRPC server listens: {@code unix:///path/csi.sock} or {@code tcp://host:port}. */
public sealed interface Endpoint {

    record Unix(Path path) implements Endpoint {
        @Override
        public String toString() {
            return "unix://" + path;
        }
    }

    record Tcp(String host, int port) implements Endpoint {
        public InetSocketAddress address() {
            return new InetSocketAddress(host, port);
        }

        @Override
        public String toString() {
            return "tcp://" + host + ":" + port;
        }
    }

    static Endpoint parse(String text) {
        if (text.startsWith("unix://")) {
            String path = text.substring("unix://".length());
            if (!path.startsWith("/")) {
                throw new IllegalArgumentException("unix endpoint needs an absolute path, e.g. unix:///csi/csi.sock: " + text);
            }
            return new Unix(Path.of(path).normalize());
        }
        if (text.startsWith("/")) {
            return new Unix(Path.of(text).normalize());
        }
        if (text.startsWith("tcp://")) {
            try {
                URI uri = new URI(text);
                if (uri.getHost() == null || uri.getPort() < 0) {
                    throw new IllegalArgumentException("tcp endpoint needs host and port, e.g. tcp://127.0.0.1:10000: " + text);
                }
                return new Tcp(uri.getHost(), uri.getPort());
            } catch (URISyntaxException e) {
                throw new IllegalArgumentException("malformed endpoint " + text + ": " + e.getMessage());
            }
        }
        throw new IllegalArgumentException("endpoint must start with unix:// or tcp://: " + text);
    }
}
