package dev.pmemcsi.deploy;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.rbac.Subject;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.storage.CSIDriver;
import io.fabric8.kubernetes.api.model.storage.StorageClass;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OverlaysTest {
    /** What a component needs next to it in the using kustomization: its settings. */
    private static final Map<String, String> COMPONENT_SETTINGS = Map.of("kubelet-dir", ""
            + "configMapGenerator:\n"
            + "  - name: pmem-csi-kubelet-dir\n"
            + "    literals: [path=/var/lib/k0s/kubelet]\n"
            + "    options:\n"
            + "      disableNameSuffixHash: true\n"
            + "      annotations: {config.kubernetes.io/local-config: \"true\"}\n");
    private static final String DRIVER_NAME = "pmem-csi.dev";
    /** StorageClass parameters the driver accepts, plus the one external-provisioner consumes. */
    private static final Set<String> STORAGE_CLASS_PARAMETERS = Set.of(
            "csi.storage.k8s.io/fstype", "eraseafter", "usage", "persistencyModel", "kataContainers");
    /**
     * The overlays whose device manager grows volumes, and which therefore run csi-resizer: all of
     * them (emulated and lvm online, ndctl offline); the base alone runs none.
     */
    private static final Set<String> GROWING = Set.of("overlays/direct", "overlays/emulated", "overlays/lvm");
    private static final Pattern SIDECAR_IMAGE = Pattern.compile("registry\\.k8s\\.io/sig-storage/[a-z-]+:v\\d+\\.\\d+\\.\\d+");

    @ParameterizedTest
    @ValueSource(strings = {"overlays/direct", "overlays/emulated", "overlays/lvm"})
    void overlayPassesEveryConsistencyCheck(String overlay) {
        Manifests manifests = Manifests.render(Repo.kubernetes(overlay));
        Map<String, List<String>> failed = new LinkedHashMap<>();
        new DeploymentChecks(manifests, DriverHelp.longOptions()).all().forEach((check, problems) -> {
            if (!problems.isEmpty()) {
                failed.put(check, problems);
            }
        });
        assertEquals(Map.of(), failed, overlay + " has consistency problems");
    }

    @ParameterizedTest
    @ValueSource(strings = {"base", "overlays/direct", "overlays/emulated", "overlays/lvm"})
    void rendersIntoTypedObjects(String kustomization) {
        Manifests manifests = Manifests.render(Repo.kubernetes(kustomization));
        Map<String, Long> kinds = manifests.all().stream()
                .collect(Collectors.groupingBy(o -> o.getKind(), Collectors.counting()));
        // Every overlay adds csi-snapshotter's ClusterRole and the provisioner's restore role, with
        // their bindings, and a VolumeSnapshotClass; the growing ones csi-resizer's role as well.
        boolean overlay = !kustomization.equals("base");
        long clusterRoles = 1L + (overlay ? 2L : 0L) + (GROWING.contains(kustomization) ? 1L : 0L);
        Map<String, Long> expected = new LinkedHashMap<>(Map.of(
                "Namespace", 1L, "CSIDriver", 1L, "ServiceAccount", 1L, "ClusterRole", clusterRoles,
                "ClusterRoleBinding", clusterRoles, "Role", 1L, "RoleBinding", 1L, "DaemonSet", 1L,
                "Service", 1L, "StorageClass", 2L));
        if (overlay) {
            expected.put("VolumeSnapshotClass", 1L);
        }
        assertEquals(expected, kinds);
        String namespace = manifests.one(Namespace.class).getMetadata().getName();
        manifests.all().stream()
                .filter(o -> o.getMetadata().getNamespace() != null)
                .forEach(o -> assertEquals(namespace, o.getMetadata().getNamespace(),
                        o.getKind() + " " + o.getMetadata().getName() + " is outside the driver's namespace"));
    }

    @Test
    void objectsWithoutATypedModelAreRejected() {
        String misspelt = "apiVersion: storage.k8s.io/v1\nkind: StorageClas\nmetadata:\n  name: x\nprovisioner: pmem-csi.dev\n";
        AssertionError error = org.junit.jupiter.api.Assertions.assertThrows(AssertionError.class,
                () -> Manifests.parse(misspelt, "misspelt.yaml"));
        assertTrue(error.getMessage().contains("StorageClas x has no typed model"), error.getMessage());
    }

    @Test
    void csiDriverObjectMatchesWhatTheDriverImplements() {
        CSIDriver driver = Manifests.render(Repo.kubernetes("base")).one(CSIDriver.class);
        assertEquals(DRIVER_NAME, driver.getMetadata().getName());
        assertFalse(driver.getSpec().getAttachRequired(), "no ControllerPublish: attach must not be required");
        assertTrue(driver.getSpec().getPodInfoOnMount(), "inline ephemeral volumes are recognised by pod info");
        assertTrue(driver.getSpec().getStorageCapacity(), "scheduling relies on CSIStorageCapacity");
        assertEquals(List.of("Persistent", "Ephemeral"), driver.getSpec().getVolumeLifecycleModes());
        assertEquals("File", driver.getSpec().getFsGroupPolicy());
    }

    @ParameterizedTest
    @ValueSource(strings = {"base", "overlays/direct", "overlays/emulated", "overlays/lvm"})
    void storageClassesBindLateAndUseOnlyKnownParameters(String kustomization) {
        List<StorageClass> classes = Manifests.render(Repo.kubernetes(kustomization)).all(StorageClass.class);
        // Every device manager grows volumes; the base leaves expansion to the overlays.
        boolean grows = GROWING.contains(kustomization);
        assertEquals(Set.of("pmem-csi-ext4", "pmem-csi-xfs"),
                classes.stream().map(c -> c.getMetadata().getName()).collect(Collectors.toSet()));
        for (StorageClass sc : classes) {
            String name = sc.getMetadata().getName();
            assertEquals("WaitForFirstConsumer", sc.getVolumeBindingMode(), name + ": node-local storage must bind late");
            assertEquals("Delete", sc.getReclaimPolicy(), name);
            assertEquals(grows, sc.getAllowVolumeExpansion(), name + " in " + kustomization + ": allowVolumeExpansion");
            assertTrue(STORAGE_CLASS_PARAMETERS.containsAll(sc.getParameters().keySet()),
                    name + ": unknown parameters in " + sc.getParameters().keySet());
            assertEquals(name.substring("pmem-csi-".length()), sc.getParameters().get("csi.storage.k8s.io/fstype"), name);
        }
    }

    @Test
    void overlaysChooseTheirDeviceManager() {
        DeploymentChecks direct = new DeploymentChecks(
                Manifests.render(Repo.kubernetes("overlays/direct")), DriverHelp.longOptions());
        assertEquals("ndctl", direct.args(DeploymentChecks.DRIVER).value("--device-manager").orElseThrow());
        assertFalse(direct.args(DeploymentChecks.DRIVER).has("--emulated-dir"));

        DeploymentChecks emulated = new DeploymentChecks(
                Manifests.render(Repo.kubernetes("overlays/emulated")), DriverHelp.longOptions());
        ContainerArgs args = emulated.args(DeploymentChecks.DRIVER);
        assertEquals("emulated", args.value("--device-manager").orElseThrow());
        String stateDir = args.value("--state-dir").orElseThrow();
        assertTrue(args.value("--emulated-dir").orElseThrow().startsWith(stateDir + "/"),
                "emulated regions belong under the state dir, which is a hostPath");
        assertTrue(args.has("--emulated-regions"));

        DeploymentChecks lvm = new DeploymentChecks(Manifests.render(Repo.kubernetes("overlays/lvm")), DriverHelp.longOptions());
        ContainerArgs lvmArgs = lvm.args(DeploymentChecks.DRIVER);
        assertEquals("lvm", lvmArgs.value("--device-manager").orElseThrow());
        assertFalse(lvmArgs.has("--lvm-devices"), "the driver prepares one namespace per region itself");
        assertFalse(lvmArgs.has("--emulated-dir"));
    }

    /**
     * LVM mode needs the host's /dev (device-mapper nodes appear there when volumes are activated),
     * its /sys, and lvm's locking directory from the host, where the node's own lvm commands lock.
     */
    @Test
    void theLvmOverlaySharesDevSysAndLvmsLocksWithTheHost() {
        Manifests manifests = Manifests.render(Repo.kubernetes("overlays/lvm"));
        DeploymentChecks checks = new DeploymentChecks(manifests, DriverHelp.longOptions());
        Container driver = checks.container(DeploymentChecks.DRIVER);
        assertTrue(driver.getSecurityContext().getPrivileged());
        PodSpec pod = manifests.one(DaemonSet.class).getSpec().getTemplate().getSpec();
        Map<String, String> hostPaths = new LinkedHashMap<>();
        for (var mount : driver.getVolumeMounts()) {
            pod.getVolumes().stream().filter(v -> v.getName().equals(mount.getName()) && v.getHostPath() != null)
                    .findFirst().ifPresent(v -> hostPaths.put(mount.getMountPath(), v.getHostPath().getPath()));
        }
        assertEquals("/dev", hostPaths.get("/dev"));
        assertEquals("/sys", hostPaths.get("/sys"));
        String lockDir = checks.args(DeploymentChecks.DRIVER).value("--lvm-lock-dir").orElseThrow();
        assertEquals("/run/lock/lvm", lockDir);
        assertEquals("/run/lock/lvm", hostPaths.get(lockDir));
        assertTrue(checks.runs(DeploymentChecks.RESIZER), "LVM volumes grow online");

        // The check that catches a lock dir inside the container.
        Manifests broken = Manifests.parse(Kustomize.render(Repo.kubernetes("overlays/lvm"))
                .replace("mountPath: /run/lock/lvm", "mountPath: /run/lock/lvm-elsewhere"), "broken lvm overlay");
        assertTrue(new DeploymentChecks(broken, DriverHelp.longOptions()).paths().stream()
                .anyMatch(p -> p.contains("--lvm-lock-dir=/run/lock/lvm is not on a hostPath volume")));
    }

    @ParameterizedTest
    @ValueSource(strings = {"overlays/direct", "overlays/emulated", "overlays/lvm"})
    void sidecarsUsePinnedUpstreamImages(String overlay) {
        DaemonSet daemonSet = Manifests.render(Repo.kubernetes(overlay)).one(DaemonSet.class);
        for (Container container : daemonSet.getSpec().getTemplate().getSpec().getContainers()) {
            if (container.getName().equals(DeploymentChecks.DRIVER)) {
                continue;
            }
            assertTrue(SIDECAR_IMAGE.matcher(container.getImage()).matches(),
                    container.getName() + ": " + container.getImage() + " is not a pinned sig-storage release");
        }
        assertTrue(daemonSet.getSpec().getTemplate().getSpec().getContainers().stream()
                .anyMatch(c -> c.getImage().startsWith("registry.k8s.io/sig-storage/csi-provisioner:v5.")));
    }

    /**
     * csi-resizer exits at start when the driver advertises no expansion, so it runs only where
     * the device manager grows volumes: in every overlay (the ndctl one grows them offline), never
     * in the base alone. Where it runs it is the v1 line (v2 needs Kubernetes 1.34), acts on its
     * own node's driver only, and talks to the API server with its own projected token.
     */
    @Test
    void theResizerRunsOnlyWhereVolumesGrow() {
        DeploymentChecks base = new DeploymentChecks(
                Manifests.render(Repo.kubernetes("base")), DriverHelp.longOptions());
        assertFalse(base.runs(DeploymentChecks.RESIZER));
        for (String overlay : GROWING) {
            assertTrue(new DeploymentChecks(Manifests.render(Repo.kubernetes(overlay)), DriverHelp.longOptions())
                    .runs(DeploymentChecks.RESIZER), overlay + " runs csi-resizer");
        }

        Manifests manifests = Manifests.render(Repo.kubernetes("overlays/emulated"));
        DeploymentChecks emulated = new DeploymentChecks(manifests, DriverHelp.longOptions());
        List<String> containers = manifests.one(DaemonSet.class).getSpec().getTemplate().getSpec().getContainers()
                .stream().map(Container::getName).toList();
        assertEquals(List.of(DeploymentChecks.DRIVER, DeploymentChecks.PROVISIONER, DeploymentChecks.REGISTRAR,
                DeploymentChecks.LIVENESS, DeploymentChecks.RESIZER, DeploymentChecks.SNAPSHOTTER), containers,
                "appended last: the overlays' patches address the driver as container 0");
        Container resizer = emulated.container(DeploymentChecks.RESIZER);
        assertTrue(resizer.getImage().startsWith("registry.k8s.io/sig-storage/csi-resizer:v1."), resizer.getImage());
        ContainerArgs args = emulated.args(DeploymentChecks.RESIZER);
        assertEquals("/csi/csi.sock", args.value("--csi-address").orElseThrow());
        assertEquals("json", args.value("--logging-format").orElseThrow());
        assertEquals("false", args.value("--handle-volume-inuse-error").orElseThrow());
        assertFalse(args.isTrue("--leader-election"));
        assertTrue(DeploymentChecks.goDurationSeconds(args.value("--timeout").orElseThrow()).getAsLong() >= 60,
                "a volume that moves is copied before ControllerExpandVolume answers");
        int port = DeploymentChecks.portOf(args.value("--http-endpoint").orElseThrow()).orElseThrow();
        Set<Integer> otherPorts = Set.of(8080, 9808, 9809, 10010);
        assertFalse(otherPorts.contains(port), "port " + port + " is taken by another container");
        Service service = manifests.one(Service.class);
        assertTrue(service.getSpec().getPorts().stream()
                .anyMatch(p -> "resizer".equals(p.getName()) && port == p.getPort()), "the metrics Service exposes it");

        ClusterRole role = manifests.named(ClusterRole.class, "pmem-csi-external-resizer");
        Map<String, Set<String>> verbs = new LinkedHashMap<>();
        for (PolicyRule rule : role.getRules()) {
            assertEquals(List.of(""), rule.getApiGroups());
            rule.getResources().forEach(r -> verbs.computeIfAbsent(r, k -> new java.util.TreeSet<>()).addAll(rule.getVerbs()));
        }
        assertEquals(Map.of(
                "persistentvolumes", Set.of("get", "list", "watch", "patch"),
                "persistentvolumeclaims", Set.of("get", "list", "watch"),
                "persistentvolumeclaims/status", Set.of("patch"),
                "events", Set.of("create", "patch")), verbs, "no pods, leases or secrets");
        ClusterRoleBinding binding = manifests.named(ClusterRoleBinding.class, "pmem-csi-external-resizer");
        assertEquals(role.getMetadata().getName(), binding.getRoleRef().getName());
        assertEquals(List.of("pmem-csi-node"), binding.getSubjects().stream().map(Subject::getName).toList());
    }

    /**
     * Both overlays take snapshots: csi-snapshotter v8 in node deployment mode (each node's sidecar
     * handles the contents labelled with its node), with exactly the RBAC it and the restoring
     * provisioner need, and the VolumeSnapshotClass of the driver.
     */
    @ParameterizedTest
    @ValueSource(strings = {"overlays/direct", "overlays/emulated", "overlays/lvm"})
    void overlaysRunTheSnapshotterWithItsClassAndLeastRbac(String overlay) {
        Manifests manifests = Manifests.render(Repo.kubernetes(overlay));
        DeploymentChecks checks = new DeploymentChecks(manifests, DriverHelp.longOptions());
        Container snapshotter = checks.container(DeploymentChecks.SNAPSHOTTER);
        assertEquals("registry.k8s.io/sig-storage/csi-snapshotter:v8.2.0", snapshotter.getImage());
        assertEquals(DeploymentChecks.SNAPSHOTTER, manifests.one(DaemonSet.class).getSpec().getTemplate().getSpec()
                .getContainers().stream().reduce((a, b) -> b).orElseThrow().getName(), "appended last");
        ContainerArgs args = checks.args(DeploymentChecks.SNAPSHOTTER);
        assertEquals("/csi/csi.sock", args.value("--csi-address").orElseThrow());
        assertTrue(args.isTrue("--node-deployment"));
        assertFalse(args.isTrue("--leader-election"));
        assertEquals("json", args.value("--logging-format").orElseThrow());
        assertTrue(DeploymentChecks.goDurationSeconds(args.value("--timeout").orElseThrow()).getAsLong() >= 5 * 60,
                "CreateSnapshot copies the whole volume before it answers");
        assertEquals("spec.nodeName", snapshotter.getEnv().stream().filter(e -> e.getName().equals("NODE_NAME"))
                .findFirst().orElseThrow().getValueFrom().getFieldRef().getFieldPath());
        assertTrue(snapshotter.getVolumeMounts().stream().anyMatch(m -> m.getName().equals("socket-dir")
                && m.getMountPath().equals("/csi")));
        assertEquals(new Quantity("32Mi"), snapshotter.getResources().getRequests().get("memory"));
        assertEquals(new Quantity("128Mi"), snapshotter.getResources().getLimits().get("memory"));
        int port = DeploymentChecks.portOf(args.value("--http-endpoint").orElseThrow()).orElseThrow();
        assertFalse(Set.of(8080, 8081, 9808, 9809, 10010).contains(port), "port " + port + " is taken by another container");
        assertTrue(manifests.one(Service.class).getSpec().getPorts().stream()
                .anyMatch(p -> "snapshotter".equals(p.getName()) && port == p.getPort()), "the metrics Service exposes it");

        assertEquals(Map.of(
                "snapshot.storage.k8s.io/volumesnapshotclasses", Set.of("get", "list", "watch"),
                "snapshot.storage.k8s.io/volumesnapshotcontents", Set.of("get", "list", "watch", "update", "patch"),
                "snapshot.storage.k8s.io/volumesnapshotcontents/status", Set.of("update", "patch"),
                "events", Set.of("create", "patch")),
                verbs(manifests.named(ClusterRole.class, "pmem-csi-external-snapshotter")),
                "no volumesnapshots, group snapshots, leases or secrets");
        assertEquals(Map.of(
                "snapshot.storage.k8s.io/volumesnapshots", Set.of("get", "list"),
                "snapshot.storage.k8s.io/volumesnapshotcontents", Set.of("get", "list")),
                verbs(manifests.named(ClusterRole.class, "pmem-csi-external-provisioner-restore")));
        for (String name : List.of("pmem-csi-external-snapshotter", "pmem-csi-external-provisioner-restore")) {
            ClusterRoleBinding binding = manifests.named(ClusterRoleBinding.class, name);
            assertEquals(name, binding.getRoleRef().getName());
            assertEquals(List.of("pmem-csi-node"), binding.getSubjects().stream().map(Subject::getName).toList());
        }

        VolumeSnapshotClass snapshotClass = manifests.one(VolumeSnapshotClass.class);
        assertEquals("pmem-csi-snapshots", snapshotClass.getMetadata().getName());
        assertEquals(DRIVER_NAME, snapshotClass.driver);
        assertEquals("Delete", snapshotClass.deletionPolicy);
        assertNull(snapshotClass.getMetadata().getNamespace(), "a cluster-scoped object");
        // The default snapshot dir, STATE-DIR/snapshots, is inside the state-dir hostPath.
        ContainerArgs driver = checks.args(DeploymentChecks.DRIVER);
        assertFalse(driver.has("--snapshot-dir"));
        assertEquals(Optional.of("/var/lib/pmem-csi.dev/snapshots"), checks.hostPath(
                checks.container(DeploymentChecks.DRIVER), driver.value("--state-dir").orElseThrow() + "/snapshots"));
    }

    /** Rules by "group/resource" (core group bare) to verbs; a wildcard anywhere fails. */
    private static Map<String, Set<String>> verbs(ClusterRole role) {
        Map<String, Set<String>> verbs = new LinkedHashMap<>();
        for (PolicyRule rule : role.getRules()) {
            for (String group : rule.getApiGroups()) {
                for (String resource : rule.getResources()) {
                    assertFalse(group.equals("*") || resource.equals("*") || rule.getVerbs().contains("*"),
                            role.getMetadata().getName() + ": wildcard in " + rule);
                    verbs.computeIfAbsent(group.isEmpty() ? resource : group + "/" + resource,
                            k -> new java.util.TreeSet<>()).addAll(rule.getVerbs());
                }
            }
        }
        return verbs;
    }

    /** docs/install.md names each sidecar with the release the manifests pin, e.g. "**csi-resizer** (v1.14.0)". */
    @Test
    void installGuideNamesThePinnedSidecarVersions() throws Exception {
        String guide = Files.readString(Repo.root().resolve("docs/install.md"));
        DaemonSet daemonSet = Manifests.render(Repo.kubernetes("overlays/emulated")).one(DaemonSet.class);
        for (Container container : daemonSet.getSpec().getTemplate().getSpec().getContainers()) {
            if (container.getName().equals(DeploymentChecks.DRIVER)) {
                continue;
            }
            String tag = container.getImage().substring(container.getImage().lastIndexOf(':') + 1);
            String named = "**" + container.getName() + "** (" + tag + ")";
            assertTrue(guide.contains(named), "docs/install.md does not say " + named);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"overlays/direct", "overlays/emulated", "overlays/lvm"})
    void driverImageIsThisVersionsReleaseOnARegistry(String overlay) {
        Container driver = new DeploymentChecks(Manifests.render(Repo.kubernetes(overlay)), DriverHelp.longOptions())
                .container(DeploymentChecks.DRIVER);
        String release = Repo.projectVersion().replaceFirst("-SNAPSHOT$", "");
        assertEquals("ghcr.io/pmem-csi/pmem-csi-driver:" + release, driver.getImage(),
                "the manifests ship the release this source tree becomes");
        assertEquals("IfNotPresent", driver.getImagePullPolicy(), "a release tag never moves");
    }

    @Test
    void anOperatorsOverlayPointsTheDriverAtItsOwnRegistry() {
        Manifests manifests = Manifests.render(Repo.fixture("with-own-image"));
        DeploymentChecks checks = new DeploymentChecks(manifests, DriverHelp.longOptions());
        assertEquals("registry.example.com/storage/pmem-csi-driver:0.1.0-rc1",
                checks.container(DeploymentChecks.DRIVER).getImage());
        assertEquals(List.of(), checks.image());
        DaemonSet daemonSet = manifests.one(DaemonSet.class);
        assertTrue(daemonSet.getSpec().getTemplate().getSpec().getContainers().stream()
                        .filter(c -> !c.getName().equals(DeploymentChecks.DRIVER))
                        .allMatch(c -> c.getImage().startsWith("registry.k8s.io/sig-storage/")),
                "only the driver's image changes");
    }

    @Test
    void openShiftComponentLetsTheServiceAccountUseThePrivilegedScc() {
        Manifests manifests = Manifests.render(Repo.fixture("with-openshift"));
        Map<String, List<String>> failed = new LinkedHashMap<>();
        DeploymentChecks checks = new DeploymentChecks(manifests, DriverHelp.longOptions());
        checks.all().forEach((check, problems) -> {
            if (!problems.isEmpty()) {
                failed.put(check, problems);
            }
        });
        assertEquals(Map.of(), failed, "with the OpenShift component");
        DaemonSet daemonSet = manifests.one(DaemonSet.class);
        String account = daemonSet.getSpec().getTemplate().getSpec().getServiceAccountName();
        String namespace = daemonSet.getMetadata().getNamespace();
        Role role = manifests.named(Role.class, "pmem-csi-node-privileged-scc");
        assertEquals(namespace, role.getMetadata().getNamespace());
        assertEquals(1, role.getRules().size());
        PolicyRule rule = role.getRules().get(0);
        assertEquals(List.of("security.openshift.io"), rule.getApiGroups());
        assertEquals(List.of("securitycontextconstraints"), rule.getResources());
        assertEquals(List.of("privileged"), rule.getResourceNames(), "the one SCC, by name");
        assertEquals(List.of("use"), rule.getVerbs());
        RoleBinding binding = manifests.named(RoleBinding.class, "pmem-csi-node-privileged-scc");
        assertEquals(namespace, binding.getMetadata().getNamespace());
        assertEquals("Role", binding.getRoleRef().getKind());
        assertEquals(role.getMetadata().getName(), binding.getRoleRef().getName());
        assertEquals(1, binding.getSubjects().size());
        Subject subject = binding.getSubjects().get(0);
        assertEquals(List.of("ServiceAccount", account, namespace),
                List.of(subject.getKind(), subject.getName(), subject.getNamespace()));
    }

    @Test
    void nodePluginSurvivesTaintsAndPreemptionAndIsAdmitted() {
        Manifests manifests = Manifests.render(Repo.kubernetes("overlays/direct"));
        PodSpec pod = manifests.one(DaemonSet.class).getSpec().getTemplate().getSpec();
        assertEquals(1, pod.getTolerations().size());
        Toleration all = pod.getTolerations().get(0);
        assertEquals("Exists", all.getOperator());
        assertEquals(null, all.getKey(), "no key: every taint");
        assertEquals(null, all.getEffect(), "no effect: NoSchedule, PreferNoSchedule and NoExecute");
        assertEquals("system-node-critical", pod.getPriorityClassName());
        Map<String, String> labels = manifests.one(Namespace.class).getMetadata().getLabels();
        assertEquals("privileged", labels.get("pod-security.kubernetes.io/enforce"));
        assertEquals("privileged", labels.get("pod-security.kubernetes.io/audit"));
        assertEquals("privileged", labels.get("pod-security.kubernetes.io/warn"));
        Container driver = pod.getContainers().stream().filter(c -> c.getName().equals(DeploymentChecks.DRIVER))
                .findFirst().orElseThrow();
        Probe startup = driver.getStartupProbe();
        assertEquals(driver.getLivenessProbe().getHttpGet(), startup.getHttpGet(), "the same check as liveness");
        assertTrue(startup.getPeriodSeconds() * startup.getFailureThreshold() >= 120, "at least 2 minutes to start");
        assertEquals(null, driver.getLivenessProbe().getInitialDelaySeconds(), "the startup probe replaces the delay");
    }

    @Test
    void kubeletDirComponentMovesEveryKubeletPath() {
        String kubeletDir = "/var/snap/microk8s/common/var/lib/kubelet";
        Manifests manifests = Manifests.render(Repo.fixture("with-kubelet-dir"));
        Map<String, List<String>> failed = new LinkedHashMap<>();
        new DeploymentChecks(manifests, DriverHelp.longOptions(), kubeletDir).all().forEach((check, problems) -> {
            if (!problems.isEmpty()) {
                failed.put(check, problems);
            }
        });
        assertEquals(Map.of(), failed, "with the kubelet dir at " + kubeletDir);
        String rendered = Kustomize.render(Repo.fixture("with-kubelet-dir"));
        assertFalse(Pattern.compile("(?<![\\w/.-])" + Pattern.quote(DeploymentChecks.DEFAULT_KUBELET_DIR)).matcher(rendered).find(),
                "a kubelet path was not moved:\n" + rendered);
        assertFalse(rendered.contains("pmem-csi-kubelet-dir"), "the setting itself is not applied to the cluster");
    }

    /** Every component renders on top of each overlay: kubectl kustomize of a kustomization using it. */
    @Test
    void everyComponentRendersOnEveryOverlay() throws Exception {
        Path components = Repo.kubernetes("components");
        List<Path> all;
        try (var dirs = Files.list(components)) {
            all = dirs.filter(Files::isDirectory).sorted().toList();
        }
        assertTrue(all.size() >= 3, "components: " + all);
        Path scratch = Files.createDirectories(Path.of("target/component-renders"));
        for (String overlay : List.of("overlays/direct", "overlays/emulated", "overlays/lvm")) {
            String overlayKustomization = Files.readString(Repo.kubernetes(overlay).resolve("kustomization.yaml"));
            for (Path component : all) {
                // A component the overlay already includes (volume-expansion in emulated) is not added twice.
                if (overlayKustomization.contains("../../components/" + component.getFileName() + "\n")) {
                    continue;
                }
                Path dir = Files.createDirectories(scratch.resolve(overlay.replace('/', '-') + "-" + component.getFileName()));
                // kustomize takes relative paths only.
                Path absolute = dir.toAbsolutePath();
                Files.writeString(dir.resolve("kustomization.yaml"), "apiVersion: kustomize.config.k8s.io/v1beta1\n"
                        + "kind: Kustomization\nresources:\n  - " + absolute.relativize(Repo.kubernetes(overlay))
                        + "\ncomponents:\n  - " + absolute.relativize(component) + "\n"
                        + COMPONENT_SETTINGS.getOrDefault(component.getFileName().toString(), ""));
                // Some components add custom resources without a typed model here: plain text.
                String rendered = Kustomize.render(dir);
                assertTrue(rendered.contains("\nkind: DaemonSet\n"), overlay + " + " + component.getFileName());
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"with-servicemonitor", "with-servicemonitor-emulated"})
    void serviceMonitorComponentScrapesTheMetricsService(String fixture) {
        Manifests manifests = Manifests.render(Repo.fixture(fixture));
        boolean resizer = new DeploymentChecks(manifests, DriverHelp.longOptions()).runs(DeploymentChecks.RESIZER);
        ServiceMonitor monitor = manifests.one(ServiceMonitor.class);
        Service service = manifests.one(Service.class);
        Map<String, String> labels = service.getMetadata().getLabels();
        assertTrue(labels.entrySet().containsAll(monitor.getSpec().selector.getMatchLabels().entrySet()),
                "ServiceMonitor selector " + monitor.getSpec().selector + " misses the Service labels " + labels);
        assertTrue(monitor.getSpec().namespaceSelector.matchNames.contains(service.getMetadata().getNamespace()));
        Set<String> servicePorts = service.getSpec().getPorts().stream().map(p -> p.getName()).collect(Collectors.toSet());
        for (ServiceMonitor.Endpoint endpoint : monitor.getSpec().endpoints) {
            // The resizer's endpoint selects a target only where components/volume-expansion runs it.
            boolean expected = !endpoint.port.equals("resizer") || resizer;
            assertEquals(expected, servicePorts.contains(endpoint.port), fixture + ": Service port named " + endpoint.port);
            assertEquals("/metrics", endpoint.path);
        }
        assertEquals(1, manifests.all(ServiceAccount.class).size());
    }
}
