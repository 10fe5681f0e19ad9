package dev.pmemcsi.ndctl;

/** libndctl's {@code enum ndctl_namespace_mode}, with the names the ndctl CLI prints. */
public enum NamespaceMode {
    FSDAX(0, "fsdax"),
    SECTOR(1, "sector"),
    RAW(2, "raw"),
    DEVDAX(3, "devdax"),
    UNKNOWN(4, "unknown");

    private final int code;
    private final String cliName;

    NamespaceMode(int code, String cliName) {
        this.code = code;
        this.cliName = cliName;
    }

    public int code() {
        return code;
    }

    public String cliName() {
        return cliName;
    }

    public static NamespaceMode fromCode(int code) {
        for (NamespaceMode m : values()) {
            if (m.code == code) {
                return m;
            }
        }
        return UNKNOWN;
    }
}
