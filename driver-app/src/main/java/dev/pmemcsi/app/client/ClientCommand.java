package dev.pmemcsi.app.client;

import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import dev.pmemcsi.csi.v1.CapacityRange;
import dev.pmemcsi.csi.v1.ControllerGrpc;
import dev.pmemcsi.csi.v1.CreateVolumeRequest;
import dev.pmemcsi.csi.v1.DeleteVolumeRequest;
import dev.pmemcsi.csi.v1.GetCapacityRequest;
import dev.pmemcsi.csi.v1.GetPluginCapabilitiesRequest;
import dev.pmemcsi.csi.v1.GetPluginInfoRequest;
import dev.pmemcsi.csi.v1.IdentityGrpc;
import dev.pmemcsi.csi.v1.ListVolumesRequest;
import dev.pmemcsi.csi.v1.NodeGetInfoRequest;
import dev.pmemcsi.csi.v1.NodeGetVolumeStatsRequest;
import dev.pmemcsi.csi.v1.NodeGrpc;
import dev.pmemcsi.csi.v1.NodePublishVolumeRequest;
import dev.pmemcsi.csi.v1.NodeStageVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnpublishVolumeRequest;
import dev.pmemcsi.csi.v1.NodeUnstageVolumeRequest;
import dev.pmemcsi.csi.v1.ProbeRequest;
import dev.pmemcsi.csi.v1.VolumeCapability;
import dev.pmemcsi.device.Quantity;
import dev.pmemcsi.app.Endpoint;
import dev.pmemcsi.app.cli.Command;
import dev.pmemcsi.app.cli.UsageException;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A CSI client for operators: the RPCs kubelet and the sidecars would make, one command each,
 * with the answers printed as JSON. Useful to debug a node without a cluster.
 */
public final class ClientCommand {

    public static final String NAME = "client";
    public static final String DESCRIPTION = "Call a running driver's CSI services, as kubelet and the sidecars would";

    String endpoint = "unix:///var/lib/kubelet/plugins/pmem-csi.dev/csi.sock";
    long timeoutSeconds = 120;

    private ClientCommand() {}

    /**
     * Runs {@code client [OPTIONS] COMMAND [ARGS]}. {@code --endpoint} and {@code --timeout} may
     * come before the command or among its own options.
     *
     * @param program what error lines start with
     * @return 0 when every call answered OK, 1 when one failed, 2 for a bad command line
     */
    public static int run(String program, List<String> args, PrintWriter out, PrintWriter err) {
        ClientCommand client = new ClientCommand();
        List<Rpc> rpcs = List.of(new Info(), new GetCapacity(), new ListVolumes(), new CreateVolume(),
                new DeleteVolume(), new Stage(), new Unstage(), new Publish(), new Unpublish(), new Stats());
        String name = program + " " + NAME;
        Command cmd = new Command(name, DESCRIPTION);
        client.addTo(cmd);
        rpcs.forEach(rpc -> cmd.subcommand(rpc.name, rpc.description));
        try {
            List<String> rest = cmd.parse(args);
            if (rest.isEmpty()) {
                if (cmd.helpRequested()) {
                    out.print(cmd.usage());
                    return 0;
                }
                err.print(cmd.usage());
                return 2;
            }
            Rpc rpc = rpcs.stream().filter(r -> r.name.equals(rest.get(0))).findFirst()
                    .orElseThrow(() -> new UsageException("unknown command '" + rest.get(0) + "'"));
            Command sub = new Command(name + " " + rpc.name, rpc.description);
            rpc.addTo(sub);
            client.addTo(sub);
            sub.parse(rest.subList(1, rest.size()));
            if (sub.helpRequested() || cmd.helpRequested()) {
                out.print(sub.usage());
                return 0;
            }
            rpc.parent = client;
            rpc.out = out;
            rpc.err = err;
            return rpc.call();
        } catch (UsageException e) {
            err.println(program + ": " + e.getMessage() + " (see --help)");
            return 2;
        } catch (IllegalArgumentException e) {
            // A value the parser passed through but the call cannot use: an --endpoint or a --size.
            err.println(program + ": " + e.getMessage());
            return 2;
        } catch (Exception e) {
            e.printStackTrace(err);
            return 1;
        }
    }

    /** The options every command takes. */
    private void addTo(Command cmd) {
        cmd.option("--endpoint", "URL", "The driver's endpoint: unix:///path/csi.sock or tcp://host:port",
                v -> endpoint = v).defaultValue(endpoint);
        cmd.option("--timeout", "SECONDS", "Deadline of each call",
                v -> timeoutSeconds = Command.longValue(v)).defaultValue(timeoutSeconds);
    }

    /** Shared by the subcommands: one channel per invocation, printing, error handling. */
    abstract static class Rpc {
        final String name;
        final String description;
        ClientCommand parent;
        PrintWriter out;
        PrintWriter err;

        Rpc(String name, String description) {
            this.name = name;
            this.description = description;
        }

        /** The command's own options and parameters. */
        void addTo(Command cmd) {}

        final int call() throws Exception {
            Endpoint endpoint = Endpoint.parse(parent.endpoint);
            if (endpoint instanceof Endpoint.Unix unix && !Files.exists(unix.path())) {
                return fail("cannot reach the driver at " + parent.endpoint + ": no socket at " + unix.path()
                        + " (is the driver running, and is this its --endpoint?)");
            }
            try (Channels channels = Channels.open(parent.endpoint)) {
                call(channels.channel());
                return 0;
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() == Status.Code.UNAVAILABLE && e.getStatus().getCause() != null) {
                    // gRPC says only "io exception"; the cause says what went wrong with the connection.
                    return fail("cannot reach the driver at " + parent.endpoint + ": " + rootMessage(e.getStatus().getCause()));
                }
                return fail(e.getStatus().getCode() + ": " + e.getStatus().getDescription());
            }
        }

        private int fail(String message) {
            err.println(name + ": " + message);
            err.flush();
            return 1;
        }

        private static String rootMessage(Throwable t) {
            Throwable root = t;
            while (root.getCause() != null && root.getCause() != root) {
                root = root.getCause();
            }
            return root.getMessage() != null ? root.getMessage() : root.getClass().getSimpleName();
        }

        abstract void call(ManagedChannel channel) throws Exception;

        IdentityGrpc.IdentityBlockingStub identity(ManagedChannel ch) {
            return IdentityGrpc.newBlockingStub(ch).withDeadlineAfter(parent.timeoutSeconds, TimeUnit.SECONDS);
        }

        ControllerGrpc.ControllerBlockingStub controller(ManagedChannel ch) {
            return ControllerGrpc.newBlockingStub(ch).withDeadlineAfter(parent.timeoutSeconds, TimeUnit.SECONDS);
        }

        NodeGrpc.NodeBlockingStub node(ManagedChannel ch) {
            return NodeGrpc.newBlockingStub(ch).withDeadlineAfter(parent.timeoutSeconds, TimeUnit.SECONDS);
        }

        void print(MessageOrBuilder m) throws Exception {
            out.println(JsonFormat.printer().print(m));
            out.flush();
        }
    }

    /** Options that describe how a volume is used: shared by create-volume, stage and publish. */
    static final class Access {
        boolean block;
        String fsType = "ext4";
        List<String> mountFlags = new ArrayList<>();
        VolumeCapability.AccessMode.Mode accessMode = VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER;

        void addTo(Command cmd) {
            cmd.flag("--block", "Raw block access instead of a filesystem", () -> block = true);
            cmd.option("--fs-type", "FS", "ext4 or xfs", v -> fsType = v).defaultValue(fsType);
            cmd.option("--mount-flag", "FLAG", "A mount flag; repeatable", mountFlags::add).repeatable();
            cmd.option("--access-mode", "MODE", "CSI access mode",
                    v -> accessMode = Command.choice(VolumeCapability.AccessMode.Mode.class, v))
                    .defaultValue(accessMode.name());
        }

        VolumeCapability capability() {
            VolumeCapability.Builder b = VolumeCapability.newBuilder()
                    .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(accessMode));
            if (block) {
                b.setBlock(VolumeCapability.BlockVolume.getDefaultInstance());
            } else {
                b.setMount(VolumeCapability.MountVolume.newBuilder().setFsType(fsType).addAllMountFlags(mountFlags));
            }
            return b.build();
        }
    }

    private static void keyValue(Map<String, String> into, String text) {
        Map.Entry<String, String> e = Command.keyValue(text);
        into.put(e.getKey(), e.getValue());
    }

    private static final String VOLUME_ID_HELP = "The volume ID that create-volume printed";
    // The driver acts only strictly below its --kubelet-dir's plugins/ and pods/, as kubelet's paths are.
    private static final String STAGING_HELP = "Staging path; the driver accepts only paths below its"
            + " --kubelet-dir, e.g. /var/lib/kubelet/plugins/kubernetes.io/csi/pmem-csi.dev/VOLUME/globalmount";
    private static final String TARGET_HELP = "Target path; the driver accepts only paths below its"
            + " --kubelet-dir, e.g. /var/lib/kubelet/pods/POD/volumes/kubernetes.io~csi/VOLUME/mount";

    static final class Info extends Rpc {
        Info() {
            super("info", "Plugin info, capabilities, readiness and node info");
        }

        @Override
        void call(ManagedChannel ch) throws Exception {
            print(identity(ch).getPluginInfo(GetPluginInfoRequest.getDefaultInstance()));
            print(identity(ch).getPluginCapabilities(GetPluginCapabilitiesRequest.getDefaultInstance()));
            print(identity(ch).probe(ProbeRequest.getDefaultInstance()));
            print(node(ch).nodeGetInfo(NodeGetInfoRequest.getDefaultInstance()));
        }
    }

    static final class GetCapacity extends Rpc {
        final Map<String, String> params = new LinkedHashMap<>();

        GetCapacity() {
            super("get-capacity", "Capacity for a volume of the given parameters");
        }

        @Override
        void addTo(Command cmd) {
            cmd.option("--param", "KEY=VALUE", "A StorageClass parameter; repeatable", v -> keyValue(params, v))
                    .repeatable();
        }

        @Override
        void call(ManagedChannel ch) throws Exception {
            print(controller(ch).getCapacity(GetCapacityRequest.newBuilder().putAllParameters(params).build()));
        }
    }

    static final class ListVolumes extends Rpc {
        ListVolumes() {
            super("list-volumes", "The volumes of this node");
        }

        @Override
        void call(ManagedChannel ch) throws Exception {
            String token = "";
            do {
                var page = controller(ch).listVolumes(ListVolumesRequest.newBuilder().setStartingToken(token).build());
                print(page);
                token = page.getNextToken();
            } while (!token.isEmpty());
        }
    }

    static final class CreateVolume extends Rpc {
        String name;
        String size = "1Gi";
        final Map<String, String> params = new LinkedHashMap<>();
        final Access access = new Access();

        CreateVolume() {
            super("create-volume", "Create a volume; prints its ID");
        }

        @Override
        void addTo(Command cmd) {
            cmd.positional("NAME", "The volume name (the PV name in Kubernetes)", v -> name = v);
            cmd.option("--size", "QUANTITY", "Usable size, e.g. 1Gi", v -> size = v).defaultValue(size);
            cmd.option("--param", "KEY=VALUE", "A StorageClass parameter; repeatable", v -> keyValue(params, v))
                    .repeatable();
            access.addTo(cmd);
        }

        @Override
        void call(ManagedChannel ch) throws Exception {
            print(controller(ch).createVolume(CreateVolumeRequest.newBuilder()
                    .setName(name)
                    .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(Quantity.parseBytes(size)))
                    .addVolumeCapabilities(access.capability())
                    .putAllParameters(params)
                    .build()));
        }
    }

    static final class DeleteVolume extends Rpc {
        String volumeId;

        DeleteVolume() {
            super("delete-volume", "Delete a volume by ID");
        }

        @Override
        void addTo(Command cmd) {
            cmd.positional("VOLUME_ID", VOLUME_ID_HELP, v -> volumeId = v);
        }

        @Override
        void call(ManagedChannel ch) throws Exception {
            print(controller(ch).deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(volumeId).build()));
        }
    }

    static final class Stage extends Rpc {
        String volumeId;
        String stagingPath;
        final Access access = new Access();

        Stage() {
            super("stage", "NodeStageVolume: format if new and mount at the staging path");
        }

        @Override
        void addTo(Command cmd) {
            cmd.positional("VOLUME_ID", VOLUME_ID_HELP, v -> volumeId = v);
            cmd.option("--staging-path", "DIR", STAGING_HELP, v -> stagingPath = v).required();
            access.addTo(cmd);
        }

        @Override
        void call(ManagedChannel ch) throws Exception {
            print(node(ch).nodeStageVolume(NodeStageVolumeRequest.newBuilder().setVolumeId(volumeId)
                    .setStagingTargetPath(stagingPath).setVolumeCapability(access.capability()).build()));
        }
    }

    static final class Unstage extends Rpc {
        String volumeId;
        String stagingPath;

        Unstage() {
            super("unstage", "NodeUnstageVolume");
        }

        @Override
        void addTo(Command cmd) {
            cmd.positional("VOLUME_ID", VOLUME_ID_HELP, v -> volumeId = v);
            cmd.option("--staging-path", "DIR", STAGING_HELP, v -> stagingPath = v).required();
        }

        @Override
        void call(ManagedChannel ch) throws Exception {
            print(node(ch).nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(volumeId)
                    .setStagingTargetPath(stagingPath).build()));
        }
    }

    static final class Publish extends Rpc {
        String volumeId;
        String stagingPath = "";
        String targetPath;
        boolean readonly;
        boolean ephemeral;
        String size;
        final Map<String, String> attributes = new LinkedHashMap<>();
        final Access access = new Access();

        Publish() {
            super("publish", "NodePublishVolume: make the volume visible at the target path."
                    + " With --ephemeral, create a CSI ephemeral inline volume of --size");
        }

        @Override
        void addTo(Command cmd) {
            cmd.positional("VOLUME_ID", VOLUME_ID_HELP, v -> volumeId = v);
            cmd.option("--staging-path", "DIR", STAGING_HELP, v -> stagingPath = v);
            cmd.option("--target-path", "PATH", TARGET_HELP, v -> targetPath = v).required();
            cmd.flag("--readonly", "Publish read-only", () -> readonly = true);
            cmd.flag("--ephemeral", "A CSI ephemeral inline volume", () -> ephemeral = true);
            cmd.option("--size", "QUANTITY", "Size of an ephemeral volume, e.g. 1Gi", v -> size = v);
            cmd.option("--attribute", "KEY=VALUE", "A volume attribute; repeatable", v -> keyValue(attributes, v))
                    .repeatable();
            access.addTo(cmd);
        }

        @Override
        void call(ManagedChannel ch) throws Exception {
            Map<String, String> ctx = new LinkedHashMap<>(attributes);
            if (ephemeral) {
                ctx.put("csi.storage.k8s.io/ephemeral", "true");
                if (size != null) {
                    ctx.put("size", size);
                }
            }
            print(node(ch).nodePublishVolume(NodePublishVolumeRequest.newBuilder().setVolumeId(volumeId)
                    .setStagingTargetPath(stagingPath).setTargetPath(targetPath).setReadonly(readonly)
                    .setVolumeCapability(access.capability()).putAllVolumeContext(ctx).build()));
        }
    }

    static final class Unpublish extends Rpc {
        String volumeId;
        String targetPath;

        Unpublish() {
            super("unpublish", "NodeUnpublishVolume");
        }

        @Override
        void addTo(Command cmd) {
            cmd.positional("VOLUME_ID", VOLUME_ID_HELP, v -> volumeId = v);
            cmd.option("--target-path", "PATH", TARGET_HELP, v -> targetPath = v).required();
        }

        @Override
        void call(ManagedChannel ch) throws Exception {
            print(node(ch).nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder().setVolumeId(volumeId)
                    .setTargetPath(targetPath).build()));
        }
    }

    static final class Stats extends Rpc {
        String volumeId;
        String path;

        Stats() {
            super("stats", "NodeGetVolumeStats: usage and condition of a published or staged volume");
        }

        @Override
        void addTo(Command cmd) {
            cmd.positional("VOLUME_ID", VOLUME_ID_HELP, v -> volumeId = v);
            cmd.option("--path", "PATH", "The staging or target path of the volume", v -> path = v).required();
        }

        @Override
        void call(ManagedChannel ch) throws Exception {
            print(node(ch).nodeGetVolumeStats(NodeGetVolumeStatsRequest.newBuilder().setVolumeId(volumeId)
                    .setVolumePath(path).build()));
        }
    }
}
