package dev.pmemcsi.reliability;

import java.util.List;
import java.util.Locale;

/**
 * The device layer the driver under test runs on, chosen with {@code -Dpmemcsi.backend}: the
 * emulated one (the default, on any Linux host), ndctl (real namespaces, in the QEMU guest) or lvm
 * (logical volumes on the fsdax devices {@code -Dpmemcsi.lvm.devices} names, in the QEMU guest).
 */
enum BackendKind {

    EMULATED,
    NDCTL,
    LVM;

    static final String PROPERTY = "pmemcsi.backend";
    static final String LVM_DEVICES = "pmemcsi.lvm.devices";

    static BackendKind current() {
        String v = System.getProperty(PROPERTY, "emulated");
        try {
            return valueOf(v.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(PROPERTY + " must be emulated, ndctl or lvm, not " + v, e);
        }
    }

    /** The pool devices of the lvm backend. */
    static List<String> lvmDevices() {
        String v = System.getProperty(LVM_DEVICES, "").strip();
        if (v.isEmpty()) {
            throw new IllegalArgumentException(PROPERTY + "=lvm needs " + LVM_DEVICES + "=/dev/pmem0,/dev/pmem1,…");
        }
        return List.of(v.split(","));
    }

    /** The driver flags that select this device layer. */
    List<String> driverFlags() {
        return switch (this) {
            case EMULATED -> List.of("--device-manager", "emulated", "--emulated-regions", DriverProcess.REGIONS);
            case NDCTL -> List.of("--device-manager", "ndctl");
            case LVM -> List.of("--device-manager", "lvm", "--lvm-devices", String.join(",", lvmDevices()));
        };
    }
}
