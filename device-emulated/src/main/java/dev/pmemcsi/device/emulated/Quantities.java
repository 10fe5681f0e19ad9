package dev.pmemcsi.device.emulated;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Byte sizes written as Kubernetes quantities: {@code 4Gi}, {@code 512Mi}, {@code 1.5G}, {@code 1e9}. */
final class Quantities {

    private static final Pattern QUANTITY = Pattern.compile("([0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)([a-zA-Z]*|[eE][+-]?[0-9]+)");

    private static final Map<String, BigInteger> SUFFIXES = Map.ofEntries(
            Map.entry("", BigInteger.ONE),
            Map.entry("Ki", BigInteger.TWO.pow(10)),
            Map.entry("Mi", BigInteger.TWO.pow(20)),
            Map.entry("Gi", BigInteger.TWO.pow(30)),
            Map.entry("Ti", BigInteger.TWO.pow(40)),
            Map.entry("Pi", BigInteger.TWO.pow(50)),
            Map.entry("Ei", BigInteger.TWO.pow(60)),
            Map.entry("k", BigInteger.TEN.pow(3)),
            Map.entry("M", BigInteger.TEN.pow(6)),
            Map.entry("G", BigInteger.TEN.pow(9)),
            Map.entry("T", BigInteger.TEN.pow(12)),
            Map.entry("P", BigInteger.TEN.pow(15)),
            Map.entry("E", BigInteger.TEN.pow(18)));

    private Quantities() {}

    /** Bytes of one quantity; fractions must come out as whole bytes. */
    static long parseBytes(String text) {
        String s = text.strip();
        Matcher m = QUANTITY.matcher(s);
        if (!m.matches()) {
            throw new IllegalArgumentException("not a size: \"" + text + "\" (expected e.g. 4Gi, 512Mi, 1G)");
        }
        BigDecimal number = new BigDecimal(m.group(1));
        String suffix = m.group(2);
        BigDecimal bytes;
        if (suffix.toLowerCase(Locale.ROOT).startsWith("e") && suffix.length() > 1 && !suffix.equals("Ei")) {
            bytes = number.scaleByPowerOfTen(Integer.parseInt(suffix.substring(1)));
        } else {
            BigInteger factor = SUFFIXES.get(suffix);
            if (factor == null) {
                throw new IllegalArgumentException("unknown unit \"" + suffix + "\" in size \"" + text
                        + "\" (use Ki, Mi, Gi, Ti, Pi, Ei, k, M, G, T, P or E)");
            }
            bytes = number.multiply(new BigDecimal(factor));
        }
        try {
            return bytes.stripTrailingZeros().toBigIntegerExact().longValueExact();
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("size \"" + text + "\" is not a whole number of bytes that fits in 63 bits", e);
        }
    }

    /** A comma-separated list of sizes, each positive and a multiple of {@code alignment}. */
    static List<Long> parseRegionSizes(String spec, long alignment) {
        if (spec == null || spec.isBlank()) {
            throw new IllegalArgumentException("no region sizes given (expected e.g. 4Gi,4Gi)");
        }
        List<Long> sizes = new ArrayList<>();
        for (String part : spec.split(",", -1)) {
            if (part.isBlank()) {
                throw new IllegalArgumentException("empty region size in \"" + spec + "\"");
            }
            long bytes = parseBytes(part);
            checkRegionSize(sizes.size(), bytes, alignment);
            sizes.add(bytes);
        }
        return List.copyOf(sizes);
    }

    /** The largest binary unit that divides {@code bytes} exactly, e.g. {@code 16Mi}. */
    static String format(long bytes) {
        String[] units = {"Ei", "Pi", "Ti", "Gi", "Mi", "Ki"};
        for (int i = 0; i < units.length; i++) {
            long unit = 1L << (10 * (units.length - i));
            if (bytes != 0 && bytes % unit == 0) {
                return bytes / unit + units[i];
            }
        }
        return Long.toString(bytes);
    }

    static void checkRegionSize(int index, long bytes, long alignment) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("region" + index + ": size must be positive, got " + bytes);
        }
        if (bytes % alignment != 0) {
            long below = bytes / alignment * alignment;
            throw new IllegalArgumentException("region" + index + ": size " + format(bytes)
                    + " is not a multiple of the region alignment " + format(alignment) + "; use "
                    + (below > 0 ? format(below) + " or " : "") + format(below + alignment));
        }
    }
}
