package dev.pmemcsi.deploy;

import dev.pmemcsi.app.Main;

import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The long options the driver accepts, taken from its own --help text rather than a copy of it. */
final class DriverHelp {
    private static final Pattern LONG_OPTION = Pattern.compile("(?<![\\w-])--[a-z0-9][a-z0-9-]*");

    private DriverHelp() {}

    static Set<String> longOptions() {
        Set<String> options = new TreeSet<>();
        Matcher matcher = LONG_OPTION.matcher(Main.usageText());
        while (matcher.find()) {
            options.add(matcher.group());
        }
        if (options.isEmpty()) {
            throw new AssertionError("Main.usageText() names no --options:\n" + Main.usageText());
        }
        return options;
    }
}
