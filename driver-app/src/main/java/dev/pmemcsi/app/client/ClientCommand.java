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
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * A CSI client for operators: the RPCs kubelet and the sidecars would make, one command each,
 * with the answers printed as JSON. Useful to debug a node without a cluster.
 */
@Command(name = "client", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Call a running driver's CSI services, as kubelet and the sidecars would.",
        subcommands = {ClientCommand.Info.class, ClientCommand.GetCapacity.class, ClientCommand.ListVolumes.class,
                ClientCommand.CreateVolume.class, ClientCommand.DeleteVolume.class, ClientCommand.Stage.class,
                ClientCommand.Unstage.class, ClientCommand.Publish.class, ClientCommand.Unpublish.class,
                ClientCommand.Stats.class})
public final class ClientCommand implements Callable<Integer> {

    @Option(names = "--endpoint", paramLabel = "URL", scope = CommandLine.ScopeType.INHERIT,
            description = "The driver's endpoint: unix:///path/csi.sock or tcp://host:port"
                    + " (default: ${DEFAULT-VALUE}).")
    String endpoint = "unix:///var/lib/kubelet/plugins/pmem-csi.dev/csi.sock";

    @Option(names = "--timeout", paramLabel = "SECONDS", scope = CommandLine.ScopeType.INHERIT,
            description = "Deadline of each call (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds = 120;

    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return 2;
    }

    /** Shared by the subcommands: one channel per invocation, printing, error handling. */
    abstract static class Rpc implements Callable<Integer> {
        @ParentCommand
        ClientCommand parent;

        @Spec
        CommandLine.Model.CommandSpec spec;

        @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
        boolean help;

        @Override
        public final Integer call() throws Exception {
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
            spec.commandLine().getErr().println(spec.name() + ": " + message);
            spec.commandLine().getErr().flush();
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
            PrintWriter out = spec.commandLine().getOut();
            out.println(JsonFormat.printer().print(m));
            out.flush();
        }
    }

    /** Options that describe how a volume is used: shared by stage and publish. */
    static class Access {
        @Option(names = "--block", description = "Raw block access instead of a filesystem.")
        boolean block;

        @Option(names = "--fs-type", paramLabel = "FS", description = "ext4 or xfs (default: ${DEFAULT-VALUE}).")
        String fsType = "ext4";

        @Option(names = "--mount-flag", paramLabel = "FLAG", description = "A mount flag; repeatable.")
        java.util.List<String> mountFlags = new java.util.ArrayList<>();

        @Option(names = "--access-mode", paramLabel = "MODE",
                description = "CSI access mode (default: ${DEFAULT-VALUE}).")
        VolumeCapability.AccessMode.Mode accessMode = VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER;

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

    @Command(name = "info", description = "Plugin info, capabilities, readiness and node info.")
    static final class Info extends Rpc {
        @Override
        void call(ManagedChannel ch) throws Exception {
            print(identity(ch).getPluginInfo(GetPluginInfoRequest.getDefaultInstance()));
            print(identity(ch).getPluginCapabilities(GetPluginCapabilitiesRequest.getDefaultInstance()));
            print(identity(ch).probe(ProbeRequest.getDefaultInstance()));
            print(node(ch).nodeGetInfo(NodeGetInfoRequest.getDefaultInstance()));
        }
    }

    @Command(name = "get-capacity", description = "Capacity for a volume of the given parameters.")
    static final class GetCapacity extends Rpc {
        @Option(names = "--param", paramLabel = "KEY=VALUE", description = "A StorageClass parameter; repeatable.")
        Map<String, String> params = new LinkedHashMap<>();

        @Override
        void call(ManagedChannel ch) throws Exception {
            print(controller(ch).getCapacity(GetCapacityRequest.newBuilder().putAllParameters(params).build()));
        }
    }

    @Command(name = "list-volumes", description = "The volumes of this node.")
    static final class ListVolumes extends Rpc {
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

    @Command(name = "create-volume", description = "Create a volume; prints its ID.")
    static final class CreateVolume extends Rpc {
        @Parameters(paramLabel = "NAME", description = "The volume name (the PV name in Kubernetes).")
        String name;

        @Option(names = "--size", paramLabel = "QUANTITY", description = "Usable size, e.g. 1Gi (default: ${DEFAULT-VALUE}).")
        String size = "1Gi";

        @Option(names = "--param", paramLabel = "KEY=VALUE", description = "A StorageClass parameter; repeatable.")
        Map<String, String> params = new LinkedHashMap<>();

        @CommandLine.Mixin
        Access access = new Access();

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

    @Command(name = "delete-volume", description = "Delete a volume by ID.")
    static final class DeleteVolume extends Rpc {
        @Parameters(paramLabel = "VOLUME_ID", description = "The volume ID that create-volume printed.")
        String volumeId;

        @Override
        void call(ManagedChannel ch) throws Exception {
            print(controller(ch).deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(volumeId).build()));
        }
    }

    // The driver acts only strictly below its --kubelet-dir's plugins/ and pods/, as kubelet's paths are.
    private static final String STAGING_HELP = "Staging path; the driver accepts only paths below its"
            + " --kubelet-dir, e.g. /var/lib/kubelet/plugins/kubernetes.io/csi/pmem-csi.dev/VOLUME/globalmount.";
    private static final String TARGET_HELP = "Target path; the driver accepts only paths below its"
            + " --kubelet-dir, e.g. /var/lib/kubelet/pods/POD/volumes/kubernetes.io~csi/VOLUME/mount.";

    @Command(name = "stage", description = "NodeStageVolume: format if new and mount at the staging path.")
    static final class Stage extends Rpc {
        @Parameters(paramLabel = "VOLUME_ID", description = "The volume ID that create-volume printed.")
        String volumeId;

        @Option(names = "--staging-path", required = true, paramLabel = "DIR", description = STAGING_HELP)
        String stagingPath;

        @CommandLine.Mixin
        Access access = new Access();

        @Override
        void call(ManagedChannel ch) throws Exception {
            print(node(ch).nodeStageVolume(NodeStageVolumeRequest.newBuilder().setVolumeId(volumeId)
                    .setStagingTargetPath(stagingPath).setVolumeCapability(access.capability()).build()));
        }
    }

    @Command(name = "unstage", description = "NodeUnstageVolume.")
    static final class Unstage extends Rpc {
        @Parameters(paramLabel = "VOLUME_ID", description = "The volume ID that create-volume printed.")
        String volumeId;

        @Option(names = "--staging-path", required = true, paramLabel = "DIR", description = STAGING_HELP)
        String stagingPath;

        @Override
        void call(ManagedChannel ch) throws Exception {
            print(node(ch).nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(volumeId)
                    .setStagingTargetPath(stagingPath).build()));
        }
    }

    @Command(name = "publish", description = "NodePublishVolume: make the volume visible at the target path."
            + " With --ephemeral, create a CSI ephemeral inline volume of --size.")
    static final class Publish extends Rpc {
        @Parameters(paramLabel = "VOLUME_ID", description = "The volume ID that create-volume printed.")
        String volumeId;

        @Option(names = "--staging-path", paramLabel = "DIR", description = STAGING_HELP)
        String stagingPath = "";

        @Option(names = "--target-path", required = true, paramLabel = "PATH", description = TARGET_HELP)
        String targetPath;

        @Option(names = "--readonly", description = "Publish read-only.")
        boolean readonly;

        @Option(names = "--ephemeral", description = "A CSI ephemeral inline volume.")
        boolean ephemeral;

        @Option(names = "--size", paramLabel = "QUANTITY", description = "Size of an ephemeral volume, e.g. 1Gi.")
        String size;

        @Option(names = "--attribute", paramLabel = "KEY=VALUE", description = "A volume attribute; repeatable.")
        Map<String, String> attributes = new LinkedHashMap<>();

        @CommandLine.Mixin
        Access access = new Access();

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

    @Command(name = "unpublish", description = "NodeUnpublishVolume.")
    static final class Unpublish extends Rpc {
        @Parameters(paramLabel = "VOLUME_ID", description = "The volume ID that create-volume printed.")
        String volumeId;

        @Option(names = "--target-path", required = true, paramLabel = "PATH", description = TARGET_HELP)
        String targetPath;

        @Override
        void call(ManagedChannel ch) throws Exception {
            print(node(ch).nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder().setVolumeId(volumeId)
                    .setTargetPath(targetPath).build()));
        }
    }

    @Command(name = "stats", description = "NodeGetVolumeStats: usage and condition of a published or staged volume.")
    static final class Stats extends Rpc {
        @Parameters(paramLabel = "VOLUME_ID", description = "The volume ID that create-volume printed.")
        String volumeId;

        @Option(names = "--path", required = true, paramLabel = "PATH",
                description = "The staging or target path of the volume.")
        String path;

        @Override
        void call(ManagedChannel ch) throws Exception {
            print(node(ch).nodeGetVolumeStats(NodeGetVolumeStatsRequest.newBuilder().setVolumeId(volumeId)
                    .setVolumePath(path).build()));
        }
    }
}
