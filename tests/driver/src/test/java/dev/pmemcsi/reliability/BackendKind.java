package dev.pmemcsi.reliability;

import java.util.List;
import java.util.Locale;

/**
 * The device layer the driver under test runs on, chosen with {@code -Dpmemcsi.backend}: the
 * emulated one (the default, on any Linux host) or ndctl (real namespaces, in the QEMU guest).
 */
enum BackendKind {

    EMULATED,
    NDCTL;

    static final String PROPERTY = "pmemcsi.backend";

    static BackendKind current() {
        String v = System.getProperty(PROPERTY, "emulated");
        try {
            return valueOf(v.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(PROPERTY + " must be emulated or ndctl, not " + v, e);
        }
    }

    /** The driver flags that select this device layer. */
    List<String> driverFlags() {
        return switch (this) {
            case EMULATED -> List.of("--device-manager", "emulated", "--emulated-regions", DriverProcess.REGIONS);
            case NDCTL -> List.of("--device-manager", "ndctl");
        };
    }
}
