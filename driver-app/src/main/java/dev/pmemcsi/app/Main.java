package dev.pmemcsi.app;

import dev.pmemcsi.app.cli.Command;
import dev.pmemcsi.app.cli.UsageException;
import dev.pmemcsi.app.client.ClientCommand;
import java.io.PrintWriter;
import java.nio.charset.Charset;
import java.util.List;

/** {@code pmem-csi-driver}: runs the CSI driver, or with {@code client} talks to one. */
public final class Main {

    static final String NAME = "pmem-csi-driver";

    private Main() {}

    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(System.out, true, Charset.defaultCharset());
        PrintWriter err = new PrintWriter(System.err, true, Charset.defaultCharset());
        System.exit(run(List.of(args), out, err));
    }

    /**
     * Runs one command line and returns the exit code: 0 after help or version, 2 for a bad option
     * or value (one line on {@code err}), else the driver's or the client's own code.
     */
    static int run(List<String> args, PrintWriter out, PrintWriter err) {
        try {
            DriverOptions options = new DriverOptions();
            Command cmd = command(options);
            List<String> subcommand;
            try {
                subcommand = cmd.parse(args);
                if (!subcommand.isEmpty() && !subcommand.get(0).equals(ClientCommand.NAME)) {
                    throw new UsageException("unknown command '" + subcommand.get(0) + "'");
                }
            } catch (UsageException e) {
                // A bad flag gets one line and exit code 2, not a page of usage.
                err.println(NAME + ": " + e.getMessage() + " (see --help)");
                return 2;
            }
            if (cmd.helpRequested()) {
                out.print(cmd.usage());
                return 0;
            }
            if (cmd.versionRequested()) {
                out.println(NAME + " " + BuildInfo.version());
                return 0;
            }
            if (!subcommand.isEmpty()) {
                return ClientCommand.run(NAME, subcommand.subList(1, subcommand.size()), out, err);
            }
            try {
                return Driver.run(options);
            } catch (IllegalArgumentException | StartupException e) {
                err.println(NAME + ": " + e.getMessage());
                return 2;
            } catch (Exception e) {
                e.printStackTrace(err);
                return 1;
            }
        } finally {
            out.flush();
            err.flush();
        }
    }

    private static Command command(DriverOptions options) {
        Command cmd = new Command(NAME, "Kubernetes CSI driver for persistent memory: carves PMEM regions into"
                + " volumes and mounts them with DAX into pods")
                .withVersionOption()
                .subcommand(ClientCommand.NAME, ClientCommand.DESCRIPTION);
        options.addTo(cmd);
        return cmd;
    }

    /** The full {@code --help} text; deployment tests check manifests against it. */
    public static String usageText() {
        return command(new DriverOptions()).usage();
    }
}
