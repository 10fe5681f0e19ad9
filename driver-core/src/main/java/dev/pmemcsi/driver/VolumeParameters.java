package dev.pmemcsi.driver;

import dev.pmemcsi.device.Quantity;
import dev.pmemcsi.device.VolumeMode;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * StorageClass parameters (CreateVolume) and CSI ephemeral inline volume attributes
 * (NodePublishVolume), validated. Names and values match the earlier Go driver's, so its
 * StorageClasses keep working.
 *
 * @param mode        {@code usage=AppDirect} (default) gives fsdax with DAX; {@code usage=FileIO} gives sector
 * @param eraseAfter  {@code eraseafter}, default true: zero the data when the volume is deleted
 * @param sizeBytes   {@code size} of an ephemeral inline volume; 0 when absent
 */
public record VolumeParameters(VolumeMode mode, boolean eraseAfter, long sizeBytes) {

    public static final String ERASE_AFTER = "eraseafter";
    public static final String USAGE = "usage";
    public static final String PERSISTENCY_MODEL = "persistencyModel";
    public static final String KATA_CONTAINERS = "kataContainers";
    public static final String SIZE = "size";

    /** Keys Kubernetes adds itself (external-provisioner, kubelet's pod info); accepted and ignored. */
    public static final String KUBERNETES_PREFIX = "csi.storage.k8s.io/";
    public static final String EPHEMERAL = KUBERNETES_PREFIX + "ephemeral";

    /** Where the parameters come from; {@code size} belongs only to ephemeral inline volumes. */
    public enum Origin { STORAGE_CLASS, EPHEMERAL_INLINE }

    public static VolumeParameters parse(Map<String, String> params, Origin origin) throws InvalidRequestException {
        VolumeMode mode = VolumeMode.FSDAX;
        boolean erase = true;
        long size = 0;
        for (Map.Entry<String, String> e : params.entrySet()) {
            String key = e.getKey();
            String value = e.getValue() == null ? "" : e.getValue().strip();
            if (key.startsWith(KUBERNETES_PREFIX)) {
                continue;
            }
            switch (key) {
                case ERASE_AFTER -> erase = parseBoolean(key, value);
                case USAGE -> mode = switch (value.toLowerCase(Locale.ROOT)) {
                    case "appdirect" -> VolumeMode.FSDAX;
                    case "fileio" -> VolumeMode.SECTOR;
                    default -> throw new InvalidRequestException(
                            "parameter usage: \"" + value + "\" is neither AppDirect nor FileIO");
                };
                case PERSISTENCY_MODEL -> {
                    if (!value.equalsIgnoreCase("normal")) {
                        throw new InvalidRequestException(
                                "parameter persistencyModel: only \"normal\" is supported, not \"" + value + "\"");
                    }
                }
                case KATA_CONTAINERS -> {
                    if (parseBoolean(key, value)) {
                        throw new InvalidRequestException(
                                "parameter kataContainers: Kata Containers volumes are not supported yet");
                    }
                }
                case SIZE -> {
                    if (origin != Origin.EPHEMERAL_INLINE) {
                        throw new InvalidRequestException(
                                "parameter size: only CSI ephemeral inline volumes take a size attribute;"
                                        + " a PVC states its size in its request");
                    }
                    try {
                        size = Quantity.parseBytes(value);
                    } catch (IllegalArgumentException ex) {
                        throw new InvalidRequestException("attribute size: " + ex.getMessage());
                    }
                    if (size <= 0) {
                        throw new InvalidRequestException("attribute size: must be positive, not \"" + value + "\"");
                    }
                }
                default -> throw new InvalidRequestException("unknown parameter \"" + key + "\"; supported: "
                        + String.join(", ", ERASE_AFTER, USAGE, PERSISTENCY_MODEL, KATA_CONTAINERS)
                        + (origin == Origin.EPHEMERAL_INLINE ? ", " + SIZE : ""));
            }
        }
        if (origin == Origin.EPHEMERAL_INLINE && size == 0) {
            throw new InvalidRequestException("CSI ephemeral inline volumes need a size attribute, e.g. size: 4Gi");
        }
        return new VolumeParameters(mode, erase, size);
    }

    /**
     * The volume context of an existing volume, derived from what every backend keeps across
     * restarts (its mode and its erase flag), so that it reads the same before and after one.
     */
    public static Map<String, String> contextOf(dev.pmemcsi.device.PmemVolume volume) {
        return new VolumeParameters(volume.mode(), volume.eraseAfter(), 0).asAttributes();
    }

    /** The attributes to record with a volume and return as its volume context. */
    public Map<String, String> asAttributes() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(USAGE, mode == VolumeMode.SECTOR ? "FileIO" : "AppDirect");
        m.put(ERASE_AFTER, Boolean.toString(eraseAfter));
        return m;
    }

    private static boolean parseBoolean(String key, String value) throws InvalidRequestException {
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new InvalidRequestException("parameter " + key + ": \"" + value + "\" is not true or false");
        };
    }
}
