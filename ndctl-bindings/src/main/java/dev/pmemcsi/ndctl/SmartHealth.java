package dev.pmemcsi.ndctl;

/**
 * The answer of a DIMM's SMART command. Each figure is only meaningful when its bit is set in
 * {@code validFlags} (libndctl's {@code ND_SMART_*_VALID}).
 *
 * @param validFlags         which of the fields below the DIMM filled in
 * @param healthFlags        {@code ND_SMART_NON_CRITICAL_HEALTH} (1), {@code CRITICAL} (2), {@code FATAL} (4)
 * @param temperatureCelsius media temperature
 * @param sparesPercent      remaining spare blocks
 * @param lifeUsedPercent    wear
 */
public record SmartHealth(int validFlags, int healthFlags, double temperatureCelsius, int sparesPercent, int lifeUsedPercent) {

    public static final int HEALTH_VALID = 1;
    public static final int SPARES_VALID = 1 << 1;
    public static final int USED_VALID = 1 << 2;
    public static final int TEMP_VALID = 1 << 3;

    public static final int NON_CRITICAL = 1;
    public static final int CRITICAL = 1 << 1;
    public static final int FATAL = 1 << 2;

    public boolean has(int validBit) {
        return (validFlags & validBit) != 0;
    }
}
