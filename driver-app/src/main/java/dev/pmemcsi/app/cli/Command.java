package dev.pmemcsi.app.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * One command's command line: its option table (name, parameter label, description, default and
 * the setter that converts and stores the value), its positional parameters and the names of its
 * subcommands. The parser and the {@code --help} text come from the same table, so the help cannot
 * name an option the parser refuses or miss one it accepts.
 *
 * <p>Written for the driver rather than taken from a library because the driver parses its command
 * line once per start and then never again: an annotation-driven library's reflection and its
 * classes (compiled for an old class-file version, so the AppCDS archive cannot hold them) stayed
 * in metaspace for the life of the process.
 *
 * <p>Accepted forms, as the driver has always accepted them: {@code --opt=value} and
 * {@code --opt value} (a value may be empty only in the first form, and the second form does not
 * take another of this command's options as the value); {@code --flag} for options without a
 * value; {@code --} ends the options. A single-valued option given twice is refused; repeatable ones
 * collect every occurrence. Instances are used for one parse.
 */
public final class Command {

    private static final int WIDTH = 80;
    private static final String INDENT = "        ";

    private final String name;
    private final String description;
    private final List<Option> options = new ArrayList<>();
    private final List<Positional> positionals = new ArrayList<>();
    private final Map<String, String> subcommands = new LinkedHashMap<>();
    private boolean versionOption;
    private boolean helpRequested;
    private boolean versionRequested;

    /**
     * @param name the command as it is typed, e.g. {@code pmem-csi-driver client info}; the usage
     *     text starts with it
     * @param description without the final period, like the options' descriptions
     */
    public Command(String name, String description) {
        this.name = name;
        this.description = description;
    }

    /**
     * Adds an option that takes a value. The setter converts the text and stores it; an
     * {@link IllegalArgumentException} from it is reported with the option's name.
     *
     * @param description one or more sentences without the final period; the help text adds the
     *     default and the period
     */
    public Option option(String optionName, String label, String description, Consumer<String> setter) {
        Option o = new Option(optionName, label, description, setter);
        options.add(o);
        return o;
    }

    /** Adds an option without a value, such as {@code --block}. */
    public Option flag(String optionName, String description, Runnable set) {
        Option o = new Option(optionName, null, description, value -> set.run());
        options.add(o);
        return o;
    }

    /** Adds a required positional parameter; they are filled in the order they are added. */
    public Command positional(String label, String description, Consumer<String> setter) {
        positionals.add(new Positional(label, description, setter));
        return this;
    }

    /**
     * Names a subcommand for the help text. A command with subcommands stops parsing at its first
     * positional argument and returns it with the rest, for the subcommand to parse.
     */
    public Command subcommand(String subcommandName, String subcommandDescription) {
        subcommands.put(subcommandName, subcommandDescription);
        return this;
    }

    /** Adds {@code -V, --version} besides {@code -h, --help}, which every command has. */
    public Command withVersionOption() {
        versionOption = true;
        return this;
    }

    public boolean helpRequested() {
        return helpRequested;
    }

    public boolean versionRequested() {
        return versionRequested;
    }

    /**
     * Parses the arguments into the table's setters.
     *
     * @return the subcommand's name and its arguments, or an empty list when the command has no
     *     subcommands or none was named
     */
    public List<String> parse(List<String> args) throws UsageException {
        Set<Option> given = new HashSet<>();
        int positional = 0;
        boolean optionsEnded = false;
        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            if (!optionsEnded && arg.equals("--")) {
                optionsEnded = true;
                continue;
            }
            if (!optionsEnded && arg.startsWith("-") && arg.length() > 1) {
                int eq = arg.indexOf('=');
                String optionName = eq < 0 ? arg : arg.substring(0, eq);
                if (isHelp(optionName) || isVersion(optionName)) {
                    if (eq >= 0) {
                        throw new UsageException("option " + optionName + " takes no value");
                    }
                    helpRequested |= isHelp(optionName);
                    versionRequested |= isVersion(optionName);
                    continue;
                }
                Option o = find(optionName);
                if (o == null) {
                    throw new UsageException("unknown option " + optionName);
                }
                if (!o.repeatable && !given.add(o)) {
                    throw new UsageException("option " + o.name + " is given more than once");
                }
                String value;
                if (o.label == null) {
                    if (eq >= 0) {
                        throw new UsageException("option " + o.name + " takes no value");
                    }
                    value = "";
                } else if (eq >= 0) {
                    value = arg.substring(eq + 1);
                } else if (i + 1 < args.size() && !isOption(args.get(i + 1))) {
                    value = args.get(++i);
                } else {
                    throw new UsageException("option " + o.name + " needs a value: " + o.name + "=" + o.label);
                }
                set(o.name, o.setter, value);
                continue;
            }
            if (!subcommands.isEmpty()) {
                checkRequired(given, positional);
                return List.copyOf(args.subList(i, args.size()));
            }
            if (positional >= positionals.size()) {
                throw new UsageException("unexpected argument '" + arg + "'");
            }
            Positional p = positionals.get(positional++);
            set(p.label, p.setter, arg);
        }
        checkRequired(given, positional);
        return List.of();
    }

    private void checkRequired(Set<Option> given, int positional) throws UsageException {
        if (helpRequested || versionRequested) {
            return;
        }
        for (Option o : options) {
            if (o.required && !given.contains(o)) {
                throw new UsageException("missing required option " + o.name + "=" + o.label);
            }
        }
        if (positional < positionals.size()) {
            throw new UsageException("missing required parameter " + positionals.get(positional).label);
        }
    }

    private static void set(String what, Consumer<String> setter, String value) throws UsageException {
        try {
            setter.accept(value);
        } catch (IllegalArgumentException e) {
            throw new UsageException(what + ": " + e.getMessage());
        }
    }

    private boolean isHelp(String optionName) {
        return optionName.equals("-h") || optionName.equals("--help");
    }

    private boolean isVersion(String optionName) {
        return versionOption && (optionName.equals("-V") || optionName.equals("--version"));
    }

    private Option find(String optionName) {
        for (Option o : options) {
            if (o.name.equals(optionName)) {
                return o;
            }
        }
        return null;
    }

    /** Whether an argument is one of this command's options, which is then not taken as the value before it. */
    private boolean isOption(String arg) {
        int eq = arg.indexOf('=');
        String optionName = eq < 0 ? arg : arg.substring(0, eq);
        return isHelp(optionName) || isVersion(optionName) || find(optionName) != null;
    }

    /** The {@code --help} text: synopsis, description, parameters, options and subcommands. */
    public String usage() {
        StringBuilder out = new StringBuilder("Usage: ").append(name).append(" [OPTIONS]");
        positionals.forEach(p -> out.append(' ').append(p.label));
        if (!subcommands.isEmpty()) {
            out.append(" [COMMAND]");
        }
        out.append('\n');
        wrap(out, "", description + ".");
        if (!positionals.isEmpty()) {
            out.append("Parameters:\n");
            for (Positional p : positionals) {
                out.append("  ").append(p.label).append('\n');
                wrap(out, INDENT, p.description + ".");
            }
        }
        out.append("Options:\n");
        for (Option o : options) {
            if (o.hidden) {
                continue;
            }
            out.append("  ").append(o.name);
            if (o.label != null) {
                out.append('=').append(o.label);
            }
            out.append('\n');
            String text = o.description;
            if (o.required) {
                text += " (required)";
            } else if (o.defaultText != null) {
                text += " (default: " + o.defaultText + ")";
            }
            wrap(out, INDENT, text + ".");
        }
        out.append("  -h, --help\n");
        wrap(out, INDENT, "Show this help message and exit.");
        if (versionOption) {
            out.append("  -V, --version\n");
            wrap(out, INDENT, "Print version information and exit.");
        }
        if (!subcommands.isEmpty()) {
            out.append("Commands:\n");
            int width = subcommands.keySet().stream().mapToInt(String::length).max().orElse(0);
            subcommands.forEach((command, text) -> {
                String head = "  " + command + " ".repeat(width - command.length() + 2);
                wrap(out, head, " ".repeat(head.length()), text + ".");
            });
        }
        return out.toString();
    }

    private static void wrap(StringBuilder out, String indent, String text) {
        wrap(out, indent, indent, text);
    }

    /** Word-wraps to {@value #WIDTH} columns; a word longer than a line (a URL) gets a line of its own. */
    private static void wrap(StringBuilder out, String first, String indent, String text) {
        StringBuilder line = new StringBuilder(first);
        int empty = first.length();
        for (String word : text.split(" ")) {
            if (line.length() > empty && line.length() + 1 + word.length() > WIDTH) {
                out.append(line).append('\n');
                line.setLength(0);
                line.append(indent);
                empty = indent.length();
            }
            if (line.length() > empty) {
                line.append(' ');
            }
            line.append(word);
        }
        out.append(line).append('\n');
    }

    /** An option of the table; the fluent methods complete its entry. */
    public static final class Option {
        private final String name;
        private final String label;
        private final String description;
        private final Consumer<String> setter;
        private String defaultText;
        private boolean repeatable;
        private boolean required;
        private boolean hidden;

        private Option(String name, String label, String description, Consumer<String> setter) {
            if (!name.startsWith("--")) {
                throw new IllegalArgumentException("option names start with --: " + name);
            }
            this.name = name;
            this.label = label;
            this.description = description;
            this.setter = setter;
        }

        /** The default the help text shows: the field's initial value, or words such as "none". */
        public Option defaultValue(Object value) {
            defaultText = value instanceof Enum<?> e ? e.name().toLowerCase(Locale.ROOT) : String.valueOf(value);
            return this;
        }

        /** Every occurrence goes to the setter, for list and map options. */
        public Option repeatable() {
            repeatable = true;
            return this;
        }

        public Option required() {
            required = true;
            return this;
        }

        /** Accepted but left out of the help text: a tuning knob, not a deployment setting. */
        public Option hidden() {
            hidden = true;
            return this;
        }
    }

    private record Positional(String label, String description, Consumer<String> setter) {}

    // The converters the option tables use; each throws IllegalArgumentException naming the bad text.

    public static int intValue(String text) {
        try {
            return Integer.parseInt(text.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' is not a whole number");
        }
    }

    public static long longValue(String text) {
        try {
            return Long.parseLong(text.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' is not a whole number");
        }
    }

    public static Path path(String text) {
        return Path.of(text);
    }

    /** An enum constant, whatever the case: the manifests write {@code json}, the constant is {@code JSON}. */
    public static <E extends Enum<E>> E choice(Class<E> type, String text) {
        List<String> names = new ArrayList<>();
        for (E constant : type.getEnumConstants()) {
            if (constant.name().equalsIgnoreCase(text)) {
                return constant;
            }
            names.add(constant.name().toLowerCase(Locale.ROOT));
        }
        throw new IllegalArgumentException("'" + text + "' is not one of " + String.join(", ", names));
    }

    /** A comma-separated list; {@code ""} is one empty element, which the caller's validation refuses. */
    public static List<String> commaList(String text) {
        return List.of(text.split(","));
    }

    /** {@code KEY=VALUE}, split at the first {@code =}. */
    public static Map.Entry<String, String> keyValue(String text) {
        int eq = text.indexOf('=');
        if (eq <= 0) {
            throw new IllegalArgumentException("'" + text + "' is not KEY=VALUE");
        }
        return Map.entry(text.substring(0, eq), text.substring(eq + 1));
    }
}
