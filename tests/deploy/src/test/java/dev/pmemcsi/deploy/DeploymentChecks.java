package dev.pmemcsi.deploy;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.rbac.RoleRef;
import io.fabric8.kubernetes.api.model.rbac.Subject;
import io.fabric8.kubernetes.api.model.storage.CSIDriver;
import io.fabric8.kubernetes.api.model.storage.StorageClass;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Consistency checks over one rendered deployment. Each check returns the problems it found,
 * worded so that the message alone says what to fix; an empty list means the check passed.
 */
final class DeploymentChecks {
    static final String DRIVER = "pmem-driver";
    static final String PROVISIONER = "external-provisioner";
    static final String REGISTRAR = "node-driver-registrar";
    static final String LIVENESS = "livenessprobe";
    /** Only where components/volume-expansion added it: the driver can grow volumes there. */
    static final String RESIZER = "csi-resizer";
    /** Runs where components/snapshots is included. */
    static final String SNAPSHOTTER = "csi-snapshotter";

    static final String DEFAULT_KUBELET_DIR = "/var/lib/kubelet";
    private static final String TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
    private static final int LIVENESSPROBE_DEFAULT_PORT = 9808;
    /** The least time the startup probe gives a first start before liveness may restart it. */
    private static final int MIN_STARTUP_SECONDS = 120;
    private static final Pattern ENV_REFERENCE = Pattern.compile("\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)");

    /** Flags the driver must always be given explicitly, rather than left to defaults. */
    private static final List<String> REQUIRED_DRIVER_FLAGS = List.of(
            "--endpoint", "--driver-name", "--node-id", "--state-dir", "--kubelet-dir", "--metrics-address",
            "--device-manager");

    /**
     * The least external-provisioner --timeout: DeleteVolume erases before it answers, and the
     * largest volume of a large node (1.5 TiB) takes about 7 minutes at the ~3.7 GiB/s BLKZEROOUT
     * reaches (docs/performance.md). A shorter bound makes every such delete time out and retry.
     */
    static final int MIN_PROVISIONER_TIMEOUT_SECONDS = 7 * 60;

    private static final String SNAPSHOT_GROUP = "snapshot.storage.k8s.io";

    /** Sidecar flags that still work but are deprecated, with what replaces them. */
    private static final Map<String, Map<String, String>> DEPRECATED_SIDECAR_FLAGS = Map.of(
            "livenessprobe", Map.of("--health-port", "--http-endpoint", "--metrics-address", "--http-endpoint"),
            "external-provisioner", Map.of("--metrics-address", "--http-endpoint"),
            "csi-resizer", Map.of("--metrics-address", "--http-endpoint"),
            "csi-snapshotter", Map.of("--metrics-address", "--http-endpoint"));

    /** A flag a sidecar must have (when the sidecar runs); a null value means any value is fine. */
    private record Required(String container, String flag, String value) {}

    private static final List<Required> REQUIRED_SIDECAR_FLAGS = List.of(
            new Required(PROVISIONER, "--csi-address", null),
            new Required(PROVISIONER, "--node-deployment", "true"),
            new Required(PROVISIONER, "--strict-topology", "true"),
            new Required(PROVISIONER, "--immediate-topology", "false"),
            new Required(PROVISIONER, "--enable-capacity", "true"),
            new Required(PROVISIONER, "--capacity-ownerref-level", "1"),
            new Required(PROVISIONER, "--capacity-poll-interval", null),
            new Required(PROVISIONER, "--extra-create-metadata", "true"),
            new Required(PROVISIONER, "--http-endpoint", null),
            new Required(PROVISIONER, "--timeout", null),
            new Required(REGISTRAR, "--csi-address", null),
            new Required(REGISTRAR, "--kubelet-registration-path", null),
            new Required(LIVENESS, "--csi-address", null),
            new Required(RESIZER, "--csi-address", null),
            // The default of 10 s is shorter than growing a volume that has to move.
            new Required(RESIZER, "--timeout", null),
            new Required(RESIZER, "--http-endpoint", null),
            // On: every node's resizer would watch every pod in the cluster, and the RBAC grants no pods.
            new Required(RESIZER, "--handle-volume-inuse-error", "false"),
            new Required(SNAPSHOTTER, "--csi-address", null),
            // Off: every node's snapshotter would act on every node's snapshots, and all but one would
            // call a driver that does not hold the volume.
            new Required(SNAPSHOTTER, "--node-deployment", "true"),
            // The default of 1 m is shorter than copying a large volume.
            new Required(SNAPSHOTTER, "--timeout", null),
            new Required(SNAPSHOTTER, "--http-endpoint", null));

    /** One permission: verb on group/resource, cluster-wide (namespace null) or in one namespace. */
    record Grant(String namespace, String group, String resource, String verb) {
        @Override
        public String toString() {
            String what = verb + " " + (group.isEmpty() ? "" : group + "/") + resource;
            return namespace == null ? what + " cluster-wide" : what + " in namespace " + namespace;
        }
    }

    private final Manifests manifests;
    private final Set<String> driverOptions;
    private final DaemonSet daemonSet;
    private final PodSpec pod;
    private final String namespace;

    /** Where kubelet keeps its state on the nodes: components/kubelet-dir moves it. */
    private final String kubeletDir;
    private final String pluginRegistry;

    DeploymentChecks(Manifests manifests, Set<String> driverOptions) {
        this(manifests, driverOptions, DEFAULT_KUBELET_DIR);
    }

    DeploymentChecks(Manifests manifests, Set<String> driverOptions, String kubeletDir) {
        this.kubeletDir = kubeletDir;
        this.pluginRegistry = kubeletDir + "/plugins_registry";
        this.manifests = manifests;
        this.driverOptions = Set.copyOf(driverOptions);
        this.daemonSet = manifests.one(DaemonSet.class);
        this.pod = daemonSet.getSpec().getTemplate().getSpec();
        this.namespace = daemonSet.getMetadata().getNamespace();
    }

    /** Every check, by name, in a stable order. */
    Map<String, List<String>> all() {
        Map<String, List<String>> results = new LinkedHashMap<>();
        results.put("driver name", driverName());
        results.put("socket and kubelet paths", paths());
        results.put("driver flags", driverFlags());
        results.put("sidecar flags", sidecarFlags());
        results.put("environment", environment());
        results.put("rbac", rbac());
        results.put("volume expansion", volumeExpansion());
        results.put("snapshots", snapshots());
        results.put("probes and ports", probesAndPorts());
        results.put("resources", resources());
        results.put("scheduling", scheduling());
        results.put("image", image());
        results.put("pod security", podSecurity());
        results.put("selinux", selinux());
        return results;
    }

    List<String> driverName() {
        List<String> problems = new ArrayList<>();
        List<CSIDriver> drivers = manifests.all(CSIDriver.class);
        if (drivers.size() != 1) {
            problems.add("expected exactly one CSIDriver object, found " + drivers.size());
            return problems;
        }
        String name = drivers.get(0).getMetadata().getName();
        Optional<String> flag = args(DRIVER).value("--driver-name");
        if (flag.isEmpty()) {
            problems.add(DRIVER + ": --driver-name is not set explicitly (the CSIDriver is " + name + ")");
        } else if (!flag.get().equals(name)) {
            problems.add(DRIVER + ": --driver-name=" + flag.get() + " differs from the CSIDriver name " + name);
        }
        for (StorageClass sc : manifests.all(StorageClass.class)) {
            if (!name.equals(sc.getProvisioner())) {
                problems.add("StorageClass " + sc.getMetadata().getName() + ": provisioner " + sc.getProvisioner()
                        + " differs from the driver name " + name);
            }
        }
        return problems;
    }

    List<String> paths() {
        List<String> problems = new ArrayList<>();
        String socket = kubeletDir + "/plugins/" + csiDriverName() + "/csi.sock";

        Optional<String> endpoint = args(DRIVER).value("--endpoint");
        if (endpoint.isEmpty() || !endpoint.get().startsWith("unix://")) {
            problems.add(DRIVER + ": --endpoint must be a unix:// socket kubelet can reach, is " + endpoint.orElse("unset"));
        } else {
            checkSocket(DRIVER, "--endpoint", endpoint.get().substring("unix://".length()), socket, problems);
        }
        for (String sidecar : sidecars()) {
            args(sidecar).value("--csi-address").ifPresent(address ->
                    checkSocket(sidecar, "--csi-address", address.replaceFirst("^unix://", ""), socket, problems));
        }
        args(REGISTRAR).value("--kubelet-registration-path").ifPresent(registration -> {
            if (!registration.equals(socket)) {
                problems.add(REGISTRAR + ": --kubelet-registration-path=" + registration
                        + " is not the driver socket as kubelet sees it, " + socket);
            }
        });
        if (hostMounts(container(REGISTRAR)).values().stream().noneMatch(pluginRegistry::equals)) {
            problems.add(REGISTRAR + ": does not mount the kubelet plugin registry " + pluginRegistry);
        }

        // kubelet hands the driver host paths for staging and publishing: the container must see
        // the kubelet dir at the same path, and its mounts must propagate back to the host.
        Optional<VolumeMount> kubelet = mounts(container(DRIVER)).stream()
                .filter(m -> kubeletDir.equals(m.getMountPath()))
                .findFirst();
        if (kubelet.isEmpty() || !kubeletDir.equals(hostPathOf(kubelet.get().getName()))) {
            problems.add(DRIVER + ": must mount the host's " + kubeletDir + " at " + kubeletDir);
        } else if (!"Bidirectional".equals(kubelet.get().getMountPropagation())) {
            problems.add(DRIVER + ": mount of " + kubeletDir + " has mountPropagation "
                    + kubelet.get().getMountPropagation() + ", kubelet needs Bidirectional");
        }

        // The driver refuses staging and target paths outside its --kubelet-dir: it must be the
        // kubelet dir kubelet's paths start with, as the container sees it.
        args(DRIVER).value("--kubelet-dir").ifPresent(dir -> {
            if (!kubeletDir.equals(dir)) {
                problems.add(DRIVER + ": --kubelet-dir=" + dir + " is not the kubelet dir kubelet's staging and"
                        + " target paths lie in, " + kubeletDir);
            }
        });

        // Volume state and emulated regions must outlive the pod.
        for (String flag : List.of("--state-dir", "--emulated-dir")) {
            args(DRIVER).value(flag).ifPresent(dir -> {
                if (hostPath(container(DRIVER), dir).isEmpty()) {
                    problems.add(DRIVER + ": " + flag + "=" + dir + " is not on a hostPath volume; it would not survive a restart");
                }
            });
        }
        // lvm's locks only serialise commands that share the directory: the node's own lvm commands
        // must see the driver's, so it is the host's.
        args(DRIVER).value("--lvm-lock-dir").ifPresent(dir -> {
            if (hostPath(container(DRIVER), dir).isEmpty()) {
                problems.add(DRIVER + ": --lvm-lock-dir=" + dir + " is not on a hostPath volume; lvm commands on the"
                        + " node would not take the driver's locks");
            }
        });
        return problems;
    }

    private void checkSocket(String container, String flag, String path, String expected, List<String> problems) {
        Optional<String> host = hostPath(container(container), path);
        if (host.isEmpty()) {
            problems.add(container + ": " + flag + " " + path + " is not on a hostPath volume");
        } else if (!host.get().equals(expected)) {
            problems.add(container + ": " + flag + " " + path + " is " + host.get()
                    + " on the host, but the driver socket must be " + expected);
        }
    }

    List<String> driverFlags() {
        List<String> problems = new ArrayList<>();
        ContainerArgs args = args(DRIVER);
        for (String flag : args.flags().keySet()) {
            if (!driverOptions.contains(flag)) {
                problems.add(DRIVER + ": " + flag + " is not an option of the driver (not in its --help)");
            }
        }
        for (String flag : REQUIRED_DRIVER_FLAGS) {
            if (!args.has(flag)) {
                problems.add(DRIVER + ": missing flag " + flag);
            }
        }
        args.duplicates().forEach(flag -> problems.add(DRIVER + ": " + flag + " is given more than once"));
        args.positional().forEach(arg -> problems.add(DRIVER + ": argument " + arg + " is not a --flag"));
        return problems;
    }

    List<String> sidecarFlags() {
        List<String> problems = new ArrayList<>();
        for (Required required : REQUIRED_SIDECAR_FLAGS) {
            if (!runs(required.container())) {
                continue;
            }
            ContainerArgs args = args(required.container());
            if (!args.has(required.flag())) {
                problems.add(required.container() + ": missing flag " + required.flag());
                continue;
            }
            if (required.value() == null) {
                continue;
            }
            String actual = args.value(required.flag()).orElse("true");
            if (!required.value().equals(actual)) {
                problems.add(required.container() + ": " + required.flag() + "=" + actual + ", needs "
                        + required.flag() + "=" + required.value());
            }
        }
        // Each node's provisioner serves only its own node: electing one leader would leave
        // every other node without provisioning (and the RBAC has no leases for it).
        if (args(PROVISIONER).isTrue("--leader-election")) {
            problems.add(PROVISIONER + ": --leader-election must be off in node deployment mode");
        }
        // The same for the resizer: each node's driver grows only its own volumes.
        if (runs(RESIZER) && args(RESIZER).isTrue("--leader-election")) {
            problems.add(RESIZER + ": --leader-election must be off; a leader's driver could grow only its own"
                    + " node's volumes");
        }
        if (runs(SNAPSHOTTER) && args(SNAPSHOTTER).isTrue("--leader-election")) {
            problems.add(SNAPSHOTTER + ": --leader-election must be off in node deployment mode; a leader's driver"
                    + " could snapshot only its own node's volumes");
        }
        for (String sidecar : sidecars()) {
            args(sidecar).duplicates().forEach(flag -> problems.add(sidecar + ": " + flag + " is given more than once"));
            DEPRECATED_SIDECAR_FLAGS.getOrDefault(sidecar, Map.of()).forEach((flag, instead) -> {
                if (args(sidecar).has(flag)) {
                    problems.add(sidecar + ": " + flag + " is deprecated; use " + instead);
                }
            });
        }
        // One log schema for the whole pod: sidecars log JSON when the driver does.
        if (args(DRIVER).value("--log-format").map("json"::equals).orElse(false)) {
            for (String sidecar : sidecars()) {
                if (!args(sidecar).value("--logging-format").map("json"::equals).orElse(false)) {
                    problems.add(sidecar + ": logs text while the driver logs JSON; add --logging-format=json");
                }
            }
        }
        args(PROVISIONER).value("--timeout").ifPresent(t -> {
            OptionalLong seconds = goDurationSeconds(t);
            if (seconds.isEmpty()) {
                problems.add(PROVISIONER + ": --timeout=" + t + " is not a duration");
            } else if (seconds.getAsLong() < MIN_PROVISIONER_TIMEOUT_SECONDS) {
                problems.add(PROVISIONER + ": --timeout=" + t + " is shorter than erasing the largest volume takes ("
                        + MIN_PROVISIONER_TIMEOUT_SECONDS + " s)");
            }
        });
        args(PROVISIONER).value("--http-endpoint").flatMap(DeploymentChecks::portOf).ifPresent(port -> {
            if (!port.equals(namedPort(container(PROVISIONER), "provisioner"))) {
                problems.add(PROVISIONER + ": --http-endpoint port " + port + " is not its container port 'provisioner',"
                        + " so the metrics Service cannot reach it");
            }
        });
        if (runs(RESIZER)) {
            args(RESIZER).value("--http-endpoint").flatMap(DeploymentChecks::portOf).ifPresent(port -> {
                if (!port.equals(namedPort(container(RESIZER), "resizer"))) {
                    problems.add(RESIZER + ": --http-endpoint port " + port + " is not its container port 'resizer',"
                            + " so the metrics Service cannot reach it");
                }
            });
            args(RESIZER).value("--timeout").filter(t -> goDurationSeconds(t).isEmpty())
                    .ifPresent(t -> problems.add(RESIZER + ": --timeout=" + t + " is not a duration"));
        }
        if (runs(SNAPSHOTTER)) {
            args(SNAPSHOTTER).value("--http-endpoint").flatMap(DeploymentChecks::portOf).ifPresent(port -> {
                if (!port.equals(namedPort(container(SNAPSHOTTER), "snapshotter"))) {
                    problems.add(SNAPSHOTTER + ": --http-endpoint port " + port + " is not its container port"
                            + " 'snapshotter', so the metrics Service cannot reach it");
                }
            });
            args(SNAPSHOTTER).value("--timeout").filter(t -> goDurationSeconds(t).isEmpty())
                    .ifPresent(t -> problems.add(SNAPSHOTTER + ": --timeout=" + t + " is not a duration"));
        }
        return problems;
    }

    /** Seconds of a Go duration such as {@code 10m}, {@code 90s} or {@code 1h30m}. */
    static OptionalLong goDurationSeconds(String d) {
        Matcher m = Pattern.compile("(\\d+)(h|m|s)").matcher(d);
        long total = 0;
        int end = 0;
        while (m.find()) {
            if (m.start() != end) {
                return OptionalLong.empty();
            }
            long n = Long.parseLong(m.group(1));
            total += switch (m.group(2)) {
                case "h" -> n * 3600;
                case "m" -> n * 60;
                default -> n;
            };
            end = m.end();
        }
        return end == d.length() && end > 0 ? OptionalLong.of(total) : OptionalLong.empty();
    }

    List<String> environment() {
        List<String> problems = new ArrayList<>();
        Map<String, String> required = Map.of(
                "NODE_NAME", "spec.nodeName", "POD_NAME", "metadata.name", "NAMESPACE", "metadata.namespace");
        Map<String, EnvVar> provisionerEnv = env(container(PROVISIONER));
        required.forEach((name, field) -> {
            EnvVar var = provisionerEnv.get(name);
            String actual = var == null || var.getValueFrom() == null || var.getValueFrom().getFieldRef() == null
                    ? null : var.getValueFrom().getFieldRef().getFieldPath();
            if (!field.equals(actual)) {
                problems.add(PROVISIONER + ": env " + name + " must come from fieldRef " + field);
            }
        });
        // In node deployment mode csi-snapshotter picks the contents labelled with its node by name.
        if (runs(SNAPSHOTTER)) {
            EnvVar var = env(container(SNAPSHOTTER)).get("NODE_NAME");
            String actual = var == null || var.getValueFrom() == null || var.getValueFrom().getFieldRef() == null
                    ? null : var.getValueFrom().getFieldRef().getFieldPath();
            if (!"spec.nodeName".equals(actual)) {
                problems.add(SNAPSHOTTER + ": env NODE_NAME must come from fieldRef spec.nodeName");
            }
        }
        for (Container container : pod.getContainers()) {
            Map<String, EnvVar> env = env(container);
            for (String arg : Optional.ofNullable(container.getArgs()).orElse(List.of())) {
                Matcher matcher = ENV_REFERENCE.matcher(arg);
                while (matcher.find()) {
                    if (!env.containsKey(matcher.group(1))) {
                        problems.add(container.getName() + ": argument " + arg + " refers to undefined env " + matcher.group(1));
                    }
                }
            }
        }
        return problems;
    }

    /**
     * What external-provisioner in node-deployment mode with capacity tracking needs, and
     * csi-resizer where it runs. Nothing else is granted.
     */
    List<Grant> requiredGrants() {
        List<Grant> grants = new ArrayList<>();
        addGrants(grants, null, "", "persistentvolumes", "get", "list", "watch", "create", "patch", "delete");
        addGrants(grants, null, "", "persistentvolumeclaims", "get", "list", "watch", "update");
        addGrants(grants, null, "storage.k8s.io", "storageclasses", "get", "list", "watch");
        addGrants(grants, null, "", "events", "create", "update", "patch");
        addGrants(grants, namespace, "storage.k8s.io", "csistoragecapacities",
                "get", "list", "watch", "create", "update", "patch", "delete");
        addGrants(grants, namespace, "", "pods", "get");
        if (runs(RESIZER)) {
            // PVs: patch spec.capacity after growing; PVCs: watch, and patch their status. Its
            // events and the rest of its reads the provisioner's grants cover already.
            addGrants(grants, null, "", "persistentvolumes", "get", "list", "watch", "patch");
            addGrants(grants, null, "", "persistentvolumeclaims", "get", "list", "watch");
            addGrants(grants, null, "", "persistentvolumeclaims/status", "patch");
            addGrants(grants, null, "", "events", "create", "patch");
        }
        if (runs(SNAPSHOTTER)) {
            // The snapshotter reads classes, and writes contents, their status, and events.
            addGrants(grants, null, SNAPSHOT_GROUP, "volumesnapshotclasses", "get", "list", "watch");
            addGrants(grants, null, SNAPSHOT_GROUP, "volumesnapshotcontents", "get", "list", "watch", "update", "patch");
            addGrants(grants, null, SNAPSHOT_GROUP, "volumesnapshotcontents/status", "update", "patch");
            addGrants(grants, null, "", "events", "create", "patch");
            // The provisioner restores: it reads a claim's source snapshot and its content.
            addGrants(grants, null, SNAPSHOT_GROUP, "volumesnapshots", "get", "list");
            addGrants(grants, null, SNAPSHOT_GROUP, "volumesnapshotcontents", "get", "list");
        }
        return grants;
    }

    /**
     * Not for the sidecars but for admitting the pod on OpenShift (components/openshift): use of
     * an SCC, in the driver's namespace only. Rules naming resources are checked as such in
     * OverlaysTest; here the grant is just not an excess one.
     */
    Grant openShiftPrivilegedScc() {
        return new Grant(namespace, "security.openshift.io", "securitycontextconstraints", "use");
    }

    private static void addGrants(List<Grant> grants, String namespace, String group, String resource, String... verbs) {
        for (String verb : verbs) {
            grants.add(new Grant(namespace, group, resource, verb));
        }
    }

    List<String> rbac() {
        List<String> problems = new ArrayList<>();
        String account = pod.getServiceAccountName();
        if (account == null || account.isEmpty() || "default".equals(account)) {
            problems.add("DaemonSet " + daemonSet.getMetadata().getName() + " must run as its own ServiceAccount, not default");
            return problems;
        }
        boolean accountExists = manifests.all(ServiceAccount.class).stream()
                .anyMatch(sa -> account.equals(sa.getMetadata().getName()) && namespace.equals(sa.getMetadata().getNamespace()));
        if (!accountExists) {
            problems.add("ServiceAccount " + namespace + "/" + account + " used by the DaemonSet is missing");
        }

        Set<Grant> granted = grantsFor(account, problems);
        Set<Grant> required = new LinkedHashSet<>(requiredGrants());
        for (Grant need : required) {
            boolean covered = granted.stream().anyMatch(g -> g.group().equals(need.group())
                    && g.resource().equals(need.resource()) && g.verb().equals(need.verb())
                    && (g.namespace() == null || g.namespace().equals(need.namespace())));
            if (!covered) {
                problems.add("missing RBAC for the sidecars: " + need);
            }
        }
        granted.stream()
                .filter(g -> !required.contains(g) && !g.equals(openShiftPrivilegedScc()))
                .sorted(Comparator.comparing(Grant::toString))
                .forEach(g -> problems.add("RBAC grants more than the sidecars need: " + g));

        // Only the API clients (provisioner, resizer, snapshotter) get a token: the privileged driver must hold none.
        List<String> apiClients = Stream.of(PROVISIONER, RESIZER, SNAPSHOTTER).filter(this::runs).toList();
        if (!Boolean.FALSE.equals(pod.getAutomountServiceAccountToken())) {
            problems.add("the pod mounts API credentials into every container; set automountServiceAccountToken: false"
                    + " and give only " + String.join(" and ", apiClients) + " a projected token");
        }
        for (Container container : pod.getContainers()) {
            boolean hasToken = mounts(container).stream().anyMatch(m -> TOKEN_DIR.equals(m.getMountPath())
                    && isProjectedToken(m.getName()));
            boolean client = apiClients.contains(container.getName());
            if (client && !hasToken) {
                problems.add(container.getName() + ": has no service account token at " + TOKEN_DIR);
            } else if (!client && mounts(container).stream().anyMatch(m -> isProjectedToken(m.getName()))) {
                problems.add(container.getName() + ": mounts API credentials it does not need");
            }
        }
        return problems;
    }

    private Set<Grant> grantsFor(String account, List<String> problems) {
        Set<Grant> grants = new LinkedHashSet<>();
        for (ClusterRoleBinding binding : manifests.all(ClusterRoleBinding.class)) {
            if (binds(binding.getSubjects(), account)) {
                rulesOf(binding.getRoleRef(), null, "ClusterRoleBinding " + binding.getMetadata().getName(), problems)
                        .forEach(rule -> expand(rule, null, grants));
            }
        }
        for (RoleBinding binding : manifests.all(RoleBinding.class)) {
            if (binds(binding.getSubjects(), account)) {
                String scope = binding.getMetadata().getNamespace();
                rulesOf(binding.getRoleRef(), scope, "RoleBinding " + binding.getMetadata().getName(), problems)
                        .forEach(rule -> expand(rule, scope, grants));
            }
        }
        return grants;
    }

    private boolean binds(List<Subject> subjects, String account) {
        return subjects != null && subjects.stream().anyMatch(s -> "ServiceAccount".equals(s.getKind())
                && account.equals(s.getName()) && namespace.equals(s.getNamespace()));
    }

    private List<PolicyRule> rulesOf(RoleRef ref, String bindingNamespace, String binding, List<String> problems) {
        if ("ClusterRole".equals(ref.getKind())) {
            Optional<ClusterRole> role = manifests.all(ClusterRole.class).stream()
                    .filter(r -> ref.getName().equals(r.getMetadata().getName())).findFirst();
            if (role.isPresent()) {
                return Optional.ofNullable(role.get().getRules()).orElse(List.of());
            }
        } else if ("Role".equals(ref.getKind())) {
            Optional<Role> role = manifests.all(Role.class).stream()
                    .filter(r -> ref.getName().equals(r.getMetadata().getName())
                            && Objects.equals(bindingNamespace, r.getMetadata().getNamespace()))
                    .findFirst();
            if (role.isPresent()) {
                return Optional.ofNullable(role.get().getRules()).orElse(List.of());
            }
        }
        problems.add(binding + " refers to a missing " + ref.getKind() + " " + ref.getName());
        return List.of();
    }

    private static void expand(PolicyRule rule, String scope, Set<Grant> into) {
        List<String> groups = Optional.ofNullable(rule.getApiGroups()).orElse(List.of());
        List<String> resources = Optional.ofNullable(rule.getResources()).orElse(List.of());
        List<String> verbs = Optional.ofNullable(rule.getVerbs()).orElse(List.of());
        for (String group : groups) {
            for (String resource : resources) {
                for (String verb : verbs) {
                    into.add(new Grant(scope, group, resource, verb));
                }
            }
        }
        // Non-resource URLs are never needed by the sidecars; make them show up as excess.
        for (String url : Optional.ofNullable(rule.getNonResourceURLs()).orElse(List.of())) {
            for (String verb : verbs) {
                into.add(new Grant(scope, "nonResourceURL", url, verb));
            }
        }
    }

    private boolean isProjectedToken(String volumeName) {
        return volume(volumeName).map(Volume::getProjected)
                .map(p -> p.getSources().stream().anyMatch(s -> s.getServiceAccountToken() != null))
                .orElse(false);
    }

    /**
     * StorageClasses allow expansion exactly where csi-resizer runs. Without it a grown claim is
     * accepted and then waits forever; with it, a class that forbids expansion hides what the
     * deployment offers.
     */
    List<String> volumeExpansion() {
        List<String> problems = new ArrayList<>();
        boolean resizer = runs(RESIZER);
        for (StorageClass sc : manifests.all(StorageClass.class)) {
            boolean allows = Boolean.TRUE.equals(sc.getAllowVolumeExpansion());
            if (allows && !resizer) {
                problems.add("StorageClass " + sc.getMetadata().getName() + ": allowVolumeExpansion is true but no "
                        + RESIZER + " runs; a grown claim would wait forever (components/volume-expansion adds it)");
            } else if (!allows && resizer) {
                problems.add("StorageClass " + sc.getMetadata().getName() + ": allowVolumeExpansion is not true although "
                        + RESIZER + " runs; claims of this class cannot grow");
            }
        }
        return problems;
    }

    /**
     * A VolumeSnapshotClass for the driver exactly where csi-snapshotter runs, and snapshot images
     * on the node's disk: a VolumeSnapshot of a class nobody serves stays unready forever, and an
     * image inside the container's own filesystem would vanish with the container.
     */
    List<String> snapshots() {
        List<String> problems = new ArrayList<>();
        boolean snapshotter = runs(SNAPSHOTTER);
        List<VolumeSnapshotClass> classes = manifests.all(VolumeSnapshotClass.class);
        if (snapshotter && classes.isEmpty()) {
            problems.add(SNAPSHOTTER + " runs but there is no VolumeSnapshotClass for " + csiDriverName());
        } else if (!snapshotter && !classes.isEmpty()) {
            problems.add("VolumeSnapshotClass " + classes.get(0).getMetadata().getName() + " exists but no "
                    + SNAPSHOTTER + " runs; its snapshots would never become ready (components/snapshots adds it)");
        }
        for (VolumeSnapshotClass c : classes) {
            if (!csiDriverName().equals(c.driver)) {
                problems.add("VolumeSnapshotClass " + c.getMetadata().getName() + ": driver " + c.driver
                        + " is not " + csiDriverName());
            }
            if (!"Delete".equals(c.deletionPolicy)) {
                problems.add("VolumeSnapshotClass " + c.getMetadata().getName() + ": deletionPolicy " + c.deletionPolicy
                        + ", needs Delete: a retained content keeps its image on the node's disk with nothing to remove it");
            }
            if (c.parameters != null && !c.parameters.isEmpty()) {
                problems.add("VolumeSnapshotClass " + c.getMetadata().getName() + ": the driver takes no parameters, got "
                        + c.parameters.keySet());
            }
        }
        if (snapshotter) {
            ContainerArgs driver = args(DRIVER);
            String dir = driver.value("--snapshot-dir")
                    .orElse(driver.value("--state-dir").orElse("") + "/snapshots");
            if (hostPath(container(DRIVER), dir).isEmpty()) {
                problems.add(DRIVER + ": the snapshot dir " + dir + " is not on a hostPath; snapshots would be lost"
                        + " with the container");
            }
        }
        return problems;
    }

    List<String> probesAndPorts() {
        List<String> problems = new ArrayList<>();
        Container driver = container(DRIVER);
        Optional<Integer> metricsPort = args(DRIVER).value("--metrics-address").flatMap(DeploymentChecks::portOf);
        if (metricsPort.isEmpty()) {
            problems.add(DRIVER + ": --metrics-address has no port; /metrics and /readyz would be off");
            return problems;
        }
        int metrics = metricsPort.get();
        if (!Optional.ofNullable(namedPort(driver, "metrics")).equals(Optional.of(metrics))) {
            problems.add(DRIVER + ": container port 'metrics' must be " + metrics + " (--metrics-address)");
        }
        checkProbe(DRIVER + " readinessProbe", driver.getReadinessProbe(), "/readyz", metrics, driver, problems);

        ContainerArgs liveness = args(LIVENESS);
        int healthPort = liveness.value("--http-endpoint").flatMap(DeploymentChecks::portOf)
                .or(() -> liveness.value("--health-port").map(Integer::valueOf))
                .orElse(LIVENESSPROBE_DEFAULT_PORT);
        checkProbe(DRIVER + " livenessProbe", driver.getLivenessProbe(), "/healthz", healthPort, driver, problems);
        // Liveness starts only once the startup probe passed: a slow first start is not killed.
        checkProbe(DRIVER + " startupProbe", driver.getStartupProbe(), "/healthz", healthPort, driver, problems);
        Probe startup = driver.getStartupProbe();
        if (startup != null) {
            int seconds = Optional.ofNullable(startup.getPeriodSeconds()).orElse(10)
                    * Optional.ofNullable(startup.getFailureThreshold()).orElse(3);
            if (seconds < MIN_STARTUP_SECONDS) {
                problems.add(DRIVER + " startupProbe: gives a start " + seconds + " s, less than " + MIN_STARTUP_SECONDS + " s");
            }
        }

        Map<String, String> podLabels = Optional.ofNullable(daemonSet.getSpec().getTemplate().getMetadata().getLabels())
                .orElse(Map.of());
        for (Service service : manifests.all(Service.class)) {
            Map<String, String> selector = Optional.ofNullable(service.getSpec().getSelector()).orElse(Map.of());
            if (selector.isEmpty() || !podLabels.entrySet().containsAll(selector.entrySet())) {
                problems.add("Service " + service.getMetadata().getName() + ": selector " + selector
                        + " does not select the driver pods " + podLabels);
            }
            for (ServicePort port : service.getSpec().getPorts()) {
                if ("metrics".equals(port.getName())) {
                    Integer target = resolvePort(port.getTargetPort(), driver);
                    if (!Objects.equals(target, metrics)) {
                        problems.add("Service " + service.getMetadata().getName() + ": port " + port.getName()
                                + " targets " + port.getTargetPort() + ", not the metrics port " + metrics);
                    }
                } else if (pod.getContainers().stream().allMatch(c -> resolvePort(port.getTargetPort(), c) == null)) {
                    // Other ports scrape a sidecar (external-provisioner's own metrics).
                    problems.add("Service " + service.getMetadata().getName() + ": port " + port.getName()
                            + " targets " + port.getTargetPort() + ", which no container of the pod declares");
                }
            }
        }
        return problems;
    }

    private void checkProbe(String what, Probe probe, String path, int port, Container container, List<String> problems) {
        if (probe == null || probe.getHttpGet() == null) {
            problems.add(what + ": needs an HTTP GET of " + path + " on port " + port);
            return;
        }
        Integer actual = resolvePort(probe.getHttpGet().getPort(), container);
        if (!path.equals(probe.getHttpGet().getPath()) || !Objects.equals(actual, port)) {
            problems.add(what + ": probes " + probe.getHttpGet().getPath() + " on port " + actual
                    + ", expected " + path + " on port " + port);
        }
    }

    List<String> resources() {
        List<String> problems = new ArrayList<>();
        for (Container container : pod.getContainers()) {
            ResourceRequirements resources = container.getResources();
            Map<String, Quantity> requests = resources == null || resources.getRequests() == null
                    ? Map.of() : resources.getRequests();
            Map<String, Quantity> limits = resources == null || resources.getLimits() == null
                    ? Map.of() : resources.getLimits();
            for (String resource : List.of("cpu", "memory")) {
                if (!requests.containsKey(resource)) {
                    problems.add(container.getName() + ": no " + resource + " request");
                }
            }
            if (!limits.containsKey("memory")) {
                problems.add(container.getName() + ": no memory limit");
            } else if (requests.containsKey("memory")
                    && limits.get("memory").getNumericalAmount().compareTo(requests.get("memory").getNumericalAmount()) < 0) {
                problems.add(container.getName() + ": memory limit below its request");
            }
        }
        return problems;
    }

    List<String> scheduling() {
        List<String> problems = new ArrayList<>();
        // A node plugin must run on every PMEM node whatever its taints: else no capacity is
        // published there, claims stay Pending, and mounted volumes lose their driver on eviction.
        boolean toleratesAll = Optional.ofNullable(pod.getTolerations()).orElse(List.of()).stream()
                .anyMatch(t -> "Exists".equals(t.getOperator()) && (t.getKey() == null || t.getKey().isEmpty())
                        && (t.getEffect() == null || t.getEffect().isEmpty()));
        if (!toleratesAll) {
            problems.add("DaemonSet " + daemonSet.getMetadata().getName()
                    + " must tolerate every taint (a toleration with operator: Exists and no key or effect)");
        }
        if (!"system-node-critical".equals(pod.getPriorityClassName())) {
            problems.add("DaemonSet " + daemonSet.getMetadata().getName() + ": priorityClassName is "
                    + pod.getPriorityClassName() + ", a node plugin needs system-node-critical");
        }
        boolean selects = (pod.getNodeSelector() != null && !pod.getNodeSelector().isEmpty())
                || (pod.getAffinity() != null && pod.getAffinity().getNodeAffinity() != null);
        if (!selects) {
            problems.add("DaemonSet " + daemonSet.getMetadata().getName()
                    + " runs on every node; select PMEM nodes with a nodeSelector");
        }
        return problems;
    }

    /**
     * The driver image can be pulled as written: a registry host, a fixed release tag, and a
     * pull policy that fetches a moving tag again.
     */
    List<String> image() {
        List<String> problems = new ArrayList<>();
        Container driver = container(DRIVER);
        String image = Optional.ofNullable(driver.getImage()).orElse("");
        int slash = image.indexOf('/');
        String host = slash < 0 ? "" : image.substring(0, slash);
        if (!(host.contains(".") || host.contains(":") || host.equals("localhost"))) {
            problems.add(DRIVER + ": image " + image + " names no registry; nodes would look for it on Docker Hub");
        }
        int colon = image.lastIndexOf(':');
        String tag = image.contains("@") || colon <= image.lastIndexOf('/') ? "" : image.substring(colon + 1);
        boolean moving = !image.contains("@") && (tag.isEmpty() || tag.equals("latest") || tag.endsWith("-SNAPSHOT"));
        if (moving) {
            problems.add(DRIVER + ": image " + image + " has no release tag (a moving tag"
                    + ("Always".equals(driver.getImagePullPolicy()) ? ")" : " with imagePullPolicy "
                    + driver.getImagePullPolicy() + " leaves nodes on whatever build they pulled first)"));
        }
        return problems;
    }

    /** A privileged pod with hostPath volumes is admitted only in a namespace labelled privileged. */
    List<String> podSecurity() {
        List<String> problems = new ArrayList<>();
        Map<String, String> labels = manifests.all(io.fabric8.kubernetes.api.model.Namespace.class).stream()
                .filter(n -> namespace.equals(n.getMetadata().getName())).findFirst()
                .map(n -> Optional.ofNullable(n.getMetadata().getLabels()).orElse(Map.of())).orElse(null);
        if (labels == null) {
            problems.add("Namespace " + namespace + " of the DaemonSet is not part of the deployment");
            return problems;
        }
        for (String mode : List.of("enforce", "audit", "warn")) {
            String label = "pod-security.kubernetes.io/" + mode;
            if (!"privileged".equals(labels.get(label))) {
                problems.add("Namespace " + namespace + ": " + label + " is " + labels.get(label)
                        + "; the privileged node plugin needs privileged");
            }
        }
        return problems;
    }

    /**
     * Every container that shares the driver's socket may connect to it on an SELinux-enforcing
     * node: the driver, privileged, runs as spc_t; a container_t sidecar would be denied.
     */
    List<String> selinux() {
        List<String> problems = new ArrayList<>();
        for (Container container : pod.getContainers()) {
            if (container.getName().equals(DRIVER)) {
                continue;
            }
            var security = container.getSecurityContext();
            boolean privileged = security != null && Boolean.TRUE.equals(security.getPrivileged());
            String type = security == null || security.getSeLinuxOptions() == null ? null : security.getSeLinuxOptions().getType();
            if (!privileged && !"spc_t".equals(type)) {
                problems.add(container.getName() + ": runs confined (SELinux type " + type
                        + "); on an enforcing node it may not connect to the privileged driver's socket; set seLinuxOptions.type spc_t");
            }
        }
        return problems;
    }

    // --- lookups in the pod spec ---

    String csiDriverName() {
        return manifests.all(CSIDriver.class).stream().map(d -> d.getMetadata().getName()).findFirst().orElse("<no CSIDriver>");
    }

    /** Whether the DaemonSet runs a container of that name. */
    boolean runs(String name) {
        return pod.getContainers().stream().anyMatch(c -> name.equals(c.getName()));
    }

    /** The sidecars the DaemonSet runs: every container but the driver. */
    List<String> sidecars() {
        return pod.getContainers().stream().map(Container::getName).filter(n -> !n.equals(DRIVER)).toList();
    }

    Container container(String name) {
        return pod.getContainers().stream().filter(c -> name.equals(c.getName())).findFirst()
                .orElseThrow(() -> new AssertionError("DaemonSet has no container named " + name));
    }

    ContainerArgs args(String container) {
        return ContainerArgs.of(container(container));
    }

    private static List<VolumeMount> mounts(Container container) {
        return Optional.ofNullable(container.getVolumeMounts()).orElse(List.of());
    }

    private Optional<Volume> volume(String name) {
        return Optional.ofNullable(pod.getVolumes()).orElse(List.of()).stream()
                .filter(v -> name.equals(v.getName())).findFirst();
    }

    private String hostPathOf(String volumeName) {
        return volume(volumeName).map(Volume::getHostPath).map(h -> h.getPath()).orElse(null);
    }

    /** Mount path in the container to host path, for hostPath volumes only. */
    private Map<String, String> hostMounts(Container container) {
        Map<String, String> result = new LinkedHashMap<>();
        for (VolumeMount mount : mounts(container)) {
            String host = hostPathOf(mount.getName());
            if (host != null) {
                result.put(mount.getMountPath(), host);
            }
        }
        return result;
    }

    /** Where a path inside the container lives on the host, through the deepest hostPath mount containing it. */
    Optional<String> hostPath(Container container, String path) {
        Optional<VolumeMount> deepest = mounts(container).stream()
                .filter(m -> path.equals(m.getMountPath()) || path.startsWith(m.getMountPath().replaceFirst("/$", "") + "/"))
                .max(Comparator.comparingInt(m -> m.getMountPath().length()));
        if (deepest.isEmpty()) {
            return Optional.empty();
        }
        String host = hostPathOf(deepest.get().getName());
        if (host == null) {
            return Optional.empty();
        }
        String rest = path.substring(deepest.get().getMountPath().replaceFirst("/$", "").length());
        return Optional.of((host.replaceFirst("/$", "") + rest).replaceAll("/+", "/"));
    }

    private static Map<String, EnvVar> env(Container container) {
        return Optional.ofNullable(container.getEnv()).orElse(List.of()).stream()
                .collect(Collectors.toMap(EnvVar::getName, v -> v, (a, b) -> b));
    }

    private static Integer namedPort(Container container, String name) {
        return Optional.ofNullable(container.getPorts()).orElse(List.of()).stream()
                .filter(p -> name.equals(p.getName())).map(ContainerPort::getContainerPort).findFirst().orElse(null);
    }

    private static Integer resolvePort(IntOrString port, Container container) {
        if (port == null) {
            return null;
        }
        return port.getIntVal() != null ? port.getIntVal() : namedPort(container, port.getStrVal());
    }

    /** The port of a Go-style listen address such as ":10010" or "0.0.0.0:10010". */
    static Optional<Integer> portOf(String address) {
        int colon = address.lastIndexOf(':');
        if (colon < 0) {
            return Optional.empty();
        }
        try {
            return Optional.of(Integer.parseInt(address.substring(colon + 1)));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }
}
