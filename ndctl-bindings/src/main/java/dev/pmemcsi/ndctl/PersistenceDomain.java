package dev.pmemcsi.ndctl;

/** Where a region's writes become persistent ({@code enum ndctl_persistence_domain}). */
public enum PersistenceDomain {
    /** Not persistent across power loss. */
    NONE,
    /** Persistent once in the memory controller (ADR): CPU caches need flushing. */
    MEMORY_CONTROLLER,
    /** Persistent once in the CPU cache (eADR). */
    CPU_CACHE,
    /** The platform does not say; emulated NVDIMMs report this. */
    UNKNOWN;

    static PersistenceDomain fromCode(int code) {
        return switch (code) {
            case 0 -> NONE;
            case 10 -> MEMORY_CONTROLLER;
            case 20 -> CPU_CACHE;
            default -> UNKNOWN;
        };
    }
}
