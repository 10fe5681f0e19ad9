package dev.pmemcsi.app.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CommandTest {

    private enum Colour { RED, GREEN }

    /** A command with one option of each kind, recording what the setters receive. */
    private static final class Sample {
        String name = "default";
        int count = 3;
        Colour colour = Colour.RED;
        boolean flag;
        final List<String> items = new ArrayList<>();
        final Map<String, String> params = new LinkedHashMap<>();
        String id;
        final Command cmd = new Command("sample run", "Runs a sample");

        Sample() {
            cmd.option("--name", "NAME", "A name", v -> name = v).defaultValue(name);
            cmd.option("--count", "N", "A count", v -> count = Command.intValue(v)).defaultValue(count);
            cmd.option("--colour", "COLOUR", "A colour", v -> colour = Command.choice(Colour.class, v))
                    .defaultValue(colour);
            cmd.flag("--flag", "A flag", () -> flag = true);
            cmd.option("--item", "ITEMS", "Items", v -> items.addAll(Command.commaList(v))).repeatable();
            cmd.option("--param", "KEY=VALUE", "A parameter", v -> {
                Map.Entry<String, String> e = Command.keyValue(v);
                params.put(e.getKey(), e.getValue());
            }).repeatable();
            cmd.option("--secret", "S", "Not shown", v -> { }).hidden();
        }

        Sample parse(String... args) throws UsageException {
            assertEquals(List.of(), cmd.parse(List.of(args)));
            return this;
        }
    }

    private static String error(Command cmd, String... args) {
        return assertThrows(UsageException.class, () -> cmd.parse(List.of(args))).getMessage();
    }

    @Test
    void bothValueFormsAreAccepted() throws UsageException {
        Sample attached = new Sample().parse("--name=a", "--count=7", "--colour=green");
        Sample separate = new Sample().parse("--name", "a", "--count", "7", "--colour", "green");
        for (Sample s : List.of(attached, separate)) {
            assertEquals("a", s.name);
            assertEquals(7, s.count);
            assertEquals(Colour.GREEN, s.colour);
        }
    }

    @Test
    void nothingGivenLeavesTheDefaults() throws UsageException {
        Sample s = new Sample().parse();
        assertEquals("default", s.name);
        assertEquals(3, s.count);
        assertEquals(Colour.RED, s.colour);
        assertFalse(s.flag);
    }

    @Test
    void anAttachedValueMayBeEmptyOrContainEqualsSigns() throws UsageException {
        assertEquals("", new Sample().parse("--name=").name);
        assertEquals("a=b", new Sample().parse("--name=a=b").name);
        assertEquals("-5", new Sample().parse("--name", "-5").name, "a value may start with a dash");
    }

    @Test
    void enumsIgnoreCase() throws UsageException {
        assertEquals(Colour.GREEN, new Sample().parse("--colour=GREEN").colour);
        assertEquals(Colour.GREEN, new Sample().parse("--colour=Green").colour);
    }

    @Test
    void listsSplitAtCommasAndAddUpWhenRepeated() throws UsageException {
        assertEquals(List.of("a", "b", "c"), new Sample().parse("--item=a,b", "--item", "c").items);
        assertEquals(List.of(""), new Sample().parse("--item=").items, "an empty list element is left to validation");
    }

    @Test
    void keyValuePairsSplitAtTheFirstEqualsSign() throws UsageException {
        assertEquals(Map.of("a", "1", "b", "x=y"), new Sample().parse("--param", "a=1", "--param=b=x=y").params);
        assertEquals("--param: 'novalue' is not KEY=VALUE", error(new Sample().cmd, "--param", "novalue"));
    }

    @Test
    void flagsTakeNoValue() throws UsageException {
        assertTrue(new Sample().parse("--flag").flag);
        assertEquals("option --flag takes no value", error(new Sample().cmd, "--flag=true"));
    }

    @Test
    void unknownOptionsAreNamed() {
        assertEquals("unknown option --nmae", error(new Sample().cmd, "--nmae=a"));
        assertEquals("unknown option --nam", error(new Sample().cmd, "--nam", "a"), "no abbreviations");
        assertEquals("unknown option -x", error(new Sample().cmd, "-x"));
    }

    @Test
    void aMissingValueIsNamedWithItsLabel() {
        assertEquals("option --name needs a value: --name=NAME", error(new Sample().cmd, "--name"));
        assertEquals("option --name needs a value: --name=NAME", error(new Sample().cmd, "--name", "--count=1"),
                "another option is not taken as the value");
        assertEquals("option --name needs a value: --name=NAME", error(new Sample().cmd, "--name", "--help"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"many", "", "1.5", "99999999999"})
    void badNumbersAreNamedWithTheirOption(String value) {
        assertEquals("--count: '" + value + "' is not a whole number", error(new Sample().cmd, "--count=" + value));
    }

    @Test
    void badChoicesListTheGoodOnes() {
        assertEquals("--colour: 'blue' is not one of red, green", error(new Sample().cmd, "--colour=blue"));
    }

    @Test
    void aSingleValuedOptionGivenTwiceIsRefused() {
        assertEquals("option --name is given more than once", error(new Sample().cmd, "--name=a", "--name=b"));
        assertEquals("option --flag is given more than once", error(new Sample().cmd, "--flag", "--flag"));
    }

    @Test
    void positionalParametersAreRequiredAndCounted() throws UsageException {
        Sample s = new Sample();
        s.cmd.positional("ID", "The ID", v -> s.id = v);
        s.parse("--name=a", "volume-1");
        assertEquals("volume-1", s.id);
        Sample missing = new Sample();
        missing.cmd.positional("ID", "The ID", v -> missing.id = v);
        assertEquals("missing required parameter ID", error(missing.cmd, "--name=a"));
        Sample extra = new Sample();
        extra.cmd.positional("ID", "The ID", v -> extra.id = v);
        assertEquals("unexpected argument 'two'", error(extra.cmd, "one", "two"));
        assertEquals("unexpected argument 'x'", error(new Sample().cmd, "x"));
    }

    @Test
    void doubleDashEndsTheOptions() throws UsageException {
        Sample s = new Sample();
        s.cmd.positional("ID", "The ID", v -> s.id = v);
        s.parse("--", "--name");
        assertEquals("--name", s.id);
        assertEquals("default", s.name);
    }

    @Test
    void requiredOptionsAreNamedWhenMissing() throws UsageException {
        Command cmd = new Command("c", "C");
        cmd.option("--path", "PATH", "A path", v -> { }).required();
        assertEquals("missing required option --path=PATH", assertThrows(UsageException.class,
                () -> cmd.parse(List.of())).getMessage());
        Command help = new Command("c", "C");
        help.option("--path", "PATH", "A path", v -> { }).required();
        help.parse(List.of("--help"));
        assertTrue(help.helpRequested(), "--help needs no required option");
    }

    @Test
    void aCommandWithSubcommandsStopsAtTheFirstPositional() throws UsageException {
        Sample s = new Sample();
        s.cmd.subcommand("go", "Goes");
        assertEquals(List.of("go", "--name=b", "x"), s.cmd.parse(List.of("--name=a", "go", "--name=b", "x")));
        assertEquals("a", s.name);
    }

    @Test
    void helpAndVersion() throws UsageException {
        Sample s = new Sample().parse("-h");
        assertTrue(s.cmd.helpRequested());
        assertFalse(s.cmd.versionRequested());
        assertEquals("unknown option --version", error(new Sample().cmd, "--version"), "only where it was asked for");
        Command v = new Command("c", "C").withVersionOption();
        v.parse(List.of("-V"));
        assertTrue(v.versionRequested());
    }

    @Test
    void usageListsEveryVisibleOptionWithLabelDescriptionAndDefault() {
        Sample s = new Sample();
        s.cmd.positional("ID", "The ID", v -> { });
        s.cmd.subcommand("go", "Goes");
        String usage = s.cmd.usage();
        assertTrue(usage.startsWith("Usage: sample run [OPTIONS] ID [COMMAND]\nRuns a sample.\n"), usage);
        for (String expected : List.of("  --name=NAME\n        A name (default: default).\n",
                "  --count=N\n        A count (default: 3).\n", "  --colour=COLOUR\n        A colour (default: red).\n",
                "  --flag\n        A flag.\n", "  --item=ITEMS\n        Items.\n", "  ID\n        The ID.\n",
                "  -h, --help\n", "Commands:\n  go  Goes.\n")) {
            assertTrue(usage.contains(expected), expected + " missing from\n" + usage);
        }
        assertFalse(usage.contains("--secret"), usage);
        assertFalse(usage.contains("--version"), usage);
    }

    @Test
    void usageWrapsAtEightyColumnsButKeepsLongWordsWhole() {
        Command cmd = new Command("c", "C");
        String url = "unix:///" + "x".repeat(90);
        cmd.option("--long", "L", "word ".repeat(40) + url, v -> { });
        for (String line : cmd.usage().split("\n")) {
            assertTrue(line.length() <= 80 || line.strip().equals(url + "."), line);
        }
        assertTrue(cmd.usage().contains(url));
    }

    @Test
    void optionNamesStartWithTwoDashes() {
        assertThrows(IllegalArgumentException.class, () -> new Command("c", "C").option("-x", "X", "x", v -> { }));
    }
}
