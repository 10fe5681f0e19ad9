package dev.pmemcsi.device;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Kubernetes resource quantities as byte counts: {@code 4Gi}, {@code 500M}, {@code 1.5Gi},
 * {@code 1e9}: the {@code size} of CSI ephemeral inline volumes and the sizes of emulated regions.
 */
public final class Quantity {

    private static final Pattern FORMAT =
            Pattern.compile("^([0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$");

    private Quantity() {}

    /**
     * Bytes in {@code text}, rounded up to a whole byte.
     *
     * @throws IllegalArgumentException when the text is not a quantity, is negative, or does not fit a long
     */
    public static long parseBytes(String text) {
        String t = text == null ? "" : text.strip();
        Matcher m = FORMAT.matcher(t);
        if (!m.matches()) {
            throw new IllegalArgumentException("\"" + text + "\" is not a quantity such as 4Gi or 500M");
        }
        BigDecimal number = new BigDecimal(m.group(1).startsWith(".") ? "0" + m.group(1) : m.group(1));
        String suffix = m.group(2) == null ? "" : m.group(2);
        BigDecimal factor = switch (suffix) {
            case "" -> BigDecimal.ONE;
            case "Ki" -> BigDecimal.valueOf(1L << 10);
            case "Mi" -> BigDecimal.valueOf(1L << 20);
            case "Gi" -> BigDecimal.valueOf(1L << 30);
            case "Ti" -> BigDecimal.valueOf(1L << 40);
            case "Pi" -> BigDecimal.valueOf(1L << 50);
            case "Ei" -> BigDecimal.valueOf(1L << 60);
            case "k" -> BigDecimal.TEN.pow(3);
            case "M" -> BigDecimal.TEN.pow(6);
            case "G" -> BigDecimal.TEN.pow(9);
            case "T" -> BigDecimal.TEN.pow(12);
            case "P" -> BigDecimal.TEN.pow(15);
            case "E" -> BigDecimal.TEN.pow(18);
            default -> exponent(suffix);
        };
        BigInteger bytes = number.multiply(factor).setScale(0, RoundingMode.CEILING).toBigIntegerExact();
        if (bytes.bitLength() > 63) {
            throw new IllegalArgumentException("\"" + text + "\" is too large");
        }
        return bytes.longValueExact();
    }

    private static BigDecimal exponent(String suffix) {
        int exp = Integer.parseInt(suffix.substring(1).toLowerCase(Locale.ROOT).replace("+", ""));
        if (exp < 0 || exp > 30) {
            throw new IllegalArgumentException("exponent out of range: " + suffix);
        }
        return BigDecimal.TEN.pow(exp);
    }

    /** The largest binary unit that divides {@code bytes} exactly, e.g. {@code 16Mi}; for messages. */
    public static String format(long bytes) {
        String[] units = {"Ei", "Pi", "Ti", "Gi", "Mi", "Ki"};
        for (int i = 0; i < units.length; i++) {
            long unit = 1L << (10 * (units.length - i));
            if (bytes != 0 && bytes % unit == 0) {
                return bytes / unit + units[i];
            }
        }
        return Long.toString(bytes);
    }
}
