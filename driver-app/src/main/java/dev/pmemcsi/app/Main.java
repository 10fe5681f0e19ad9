package dev.pmemcsi.app;

import dev.pmemcsi.app.client.ClientCommand;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code pmem-csi-driver}: runs the CSI driver, or with {@code client} talks to one. */
@Command(name = "pmem-csi-driver", mixinStandardHelpOptions = true, versionProvider = BuildInfo.class,
        sortOptions = false, usageHelpAutoWidth = true,
        description = "Kubernetes CSI driver for persistent memory: carves PMEM regions into volumes and mounts"
                + " them with DAX into pods.",
        subcommands = ClientCommand.class)
public final class Main implements Callable<Integer> {

    @Mixin
    DriverOptions options = new DriverOptions();

    @Override
    public Integer call() throws Exception {
        return Driver.run(options);
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        // A bad flag gets one line and exit code 2, not a page of usage.
        cl.setParameterExceptionHandler((ex, args) -> {
            CommandLine cmd = ex.getCommandLine();
            cmd.getErr().println("pmem-csi-driver: " + ex.getMessage() + " (see --help)");
            return 2;
        });
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            if (ex instanceof IllegalArgumentException || ex instanceof StartupException) {
                cmd.getErr().println("pmem-csi-driver: " + ex.getMessage());
                return 2;
            }
            throw ex;
        });
        return cl;
    }

    /** The full {@code --help} text; deployment tests check manifests against it. */
    public static String usageText() {
        StringWriter out = new StringWriter();
        CommandLine cl = commandLine();
        cl.usage(new PrintWriter(out), CommandLine.Help.Ansi.OFF);
        return out.toString();
    }
}
