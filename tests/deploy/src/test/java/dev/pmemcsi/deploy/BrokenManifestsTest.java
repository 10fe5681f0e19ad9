package dev.pmemcsi.deploy;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Each committed fixture breaks exactly one thing on top of the direct overlay. The matching check
 * must name the problem, and every other check must stay quiet, so a failure points at its cause.
 */
class BrokenManifestsTest {

    @Test
    void wrongDriverNameInStorageClass() {
        assertOnlyCheckFails("wrong-driver-name", "driver name", List.of(
                "StorageClass pmem-csi-xfs: provisioner pmem-csi.example.com differs from the driver name pmem-csi.dev"));
    }

    @Test
    void missingSidecarFlag() {
        assertOnlyCheckFails("missing-sidecar-flag", "sidecar flags", List.of(
                "external-provisioner: missing flag --enable-capacity"));
    }

    @Test
    void deprecatedLivenessProbeFlag() {
        assertOnlyCheckFails("deprecated-health-port", "sidecar flags", List.of(
                "livenessprobe: --health-port is deprecated; use --http-endpoint"));
    }

    @Test
    void provisionerTimeoutShorterThanAnErase() {
        assertOnlyCheckFails("short-provisioner-timeout", "sidecar flags", List.of(
                "external-provisioner: --timeout=2m is shorter than erasing the largest volume takes (420 s)"));
    }

    @Test
    void sidecarThatLogsText() {
        assertOnlyCheckFails("text-log-sidecar", "sidecar flags", List.of(
                "node-driver-registrar: logs text while the driver logs JSON; add --logging-format=json"));
    }

    @Test
    void snapshotterThatServesEveryNode() {
        assertOnlyCheckFails("snapshotter-all-nodes", "sidecar flags", List.of(
                "csi-snapshotter: missing flag --node-deployment"));
    }

    @Test
    void snapshotterThatMayNotUpdateContentStatus() {
        assertOnlyCheckFails("snapshotter-missing-rbac", "rbac", List.of(
                "missing RBAC for the sidecars: update snapshot.storage.k8s.io/volumesnapshotcontents/status cluster-wide",
                "missing RBAC for the sidecars: patch snapshot.storage.k8s.io/volumesnapshotcontents/status cluster-wide"));
    }

    @Test
    void snapshotClassOfAnotherDriver() {
        assertOnlyCheckFails("snapshot-class-wrong-driver", "snapshots", List.of(
                "VolumeSnapshotClass pmem-csi-snapshots: driver pmem-csi.example.com is not pmem-csi.dev"));
    }

    @Test
    void wrongSocketPath() {
        assertOnlyCheckFails("wrong-socket-path", "socket and kubelet paths", List.of(
                "node-driver-registrar: --kubelet-registration-path=/var/lib/kubelet/plugins/pmem-csi/csi.sock"
                        + " is not the driver socket as kubelet sees it, /var/lib/kubelet/plugins/pmem-csi.dev/csi.sock"));
    }

    @Test
    void wrongKubeletDir() {
        assertOnlyCheckFails("wrong-kubelet-dir", "socket and kubelet paths", List.of(
                "pmem-driver: --kubelet-dir=/srv/kubelet is not the kubelet dir kubelet's staging and target paths"
                        + " lie in, /var/lib/kubelet"));
    }

    @Test
    void missingRbac() {
        assertOnlyCheckFails("missing-rbac", "rbac", List.of(
                "missing RBAC for the sidecars: get storage.k8s.io/csistoragecapacities in namespace pmem-csi",
                "missing RBAC for the sidecars: list storage.k8s.io/csistoragecapacities in namespace pmem-csi",
                "missing RBAC for the sidecars: watch storage.k8s.io/csistoragecapacities in namespace pmem-csi",
                "missing RBAC for the sidecars: create storage.k8s.io/csistoragecapacities in namespace pmem-csi",
                "missing RBAC for the sidecars: update storage.k8s.io/csistoragecapacities in namespace pmem-csi",
                "missing RBAC for the sidecars: patch storage.k8s.io/csistoragecapacities in namespace pmem-csi",
                "missing RBAC for the sidecars: delete storage.k8s.io/csistoragecapacities in namespace pmem-csi"));
    }

    @Test
    void rbacBeyondWhatTheSidecarsNeed() {
        assertOnlyCheckFails("excess-rbac", "rbac", List.of(
                "RBAC grants more than the sidecars need: get nodes cluster-wide",
                "RBAC grants more than the sidecars need: list nodes cluster-wide",
                "RBAC grants more than the sidecars need: watch nodes cluster-wide"));
    }

    @Test
    void flagTheDriverDoesNotHave() {
        assertOnlyCheckFails("unknown-driver-flag", "driver flags", List.of(
                "pmem-driver: --sysfs-root is not an option of the driver (not in its --help)"));
    }

    @Test
    void noTolerations() {
        assertOnlyCheckFails("tolerates-nothing", "scheduling", List.of(
                "DaemonSet pmem-csi-node must tolerate every taint (a toleration with operator: Exists and no key or effect)"));
    }

    @Test
    void developmentTagThatIsNeverPulledAgain() {
        assertOnlyCheckFails("snapshot-image", "image", List.of(
                "pmem-driver: image ghcr.io/pmem-csi/pmem-csi-driver:0.1.0-SNAPSHOT has no release tag (a moving tag"
                        + " with imagePullPolicy IfNotPresent leaves nodes on whatever build they pulled first)"));
    }

    @Test
    void namespaceThatEnforcesBaseline() {
        assertOnlyCheckFails("baseline-namespace", "pod security", List.of(
                "Namespace pmem-csi: pod-security.kubernetes.io/enforce is baseline; the privileged node plugin needs privileged"));
    }

    @Test
    void noStartupProbe() {
        assertOnlyCheckFails("no-startup-probe", "probes and ports", List.of(
                "pmem-driver startupProbe: needs an HTTP GET of /healthz on port 9808"));
    }

    @Test
    void sidecarConfinedBySelinux() {
        assertOnlyCheckFails("confined-sidecar", "selinux", List.of(
                "livenessprobe: runs confined (SELinux type null); on an enforcing node it may not connect to the"
                        + " privileged driver's socket; set seLinuxOptions.type spc_t"));
    }

    @Test
    void resizerWithLeaderElection() {
        assertOnlyCheckFails("resizer-leader-election", "sidecar flags", List.of(
                "csi-resizer: --leader-election must be off; a leader's driver could grow only its own node's volumes"));
    }

    @Test
    void resizerThatWatchesEveryPod() {
        assertOnlyCheckFails("resizer-watches-pods", "sidecar flags", List.of(
                "csi-resizer: --handle-volume-inuse-error=true, needs --handle-volume-inuse-error=false"));
    }

    @Test
    void resizerThatMayNotPatchClaimStatus() {
        assertOnlyCheckFails("resizer-missing-rbac", "rbac", List.of(
                "missing RBAC for the sidecars: patch persistentvolumeclaims/status cluster-wide"));
    }

    @Test
    void expandableClassWithoutResizer() {
        assertOnlyCheckFails("expansion-without-resizer", "volume expansion", List.of(
                "StorageClass pmem-csi-ext4: allowVolumeExpansion is true but no csi-resizer runs; a grown claim"
                        + " would wait forever (components/volume-expansion adds it)"));
    }

    private static void assertOnlyCheckFails(String fixture, String check, List<String> expected) {
        Manifests manifests = Manifests.render(Repo.fixture("broken/" + fixture));
        Map<String, List<String>> results = new DeploymentChecks(manifests, DriverHelp.longOptions()).all();
        assertEquals(expected, results.get(check), fixture + ": check '" + check + "'");
        Map<String, List<String>> others = new LinkedHashMap<>();
        results.forEach((name, problems) -> {
            if (!name.equals(check) && !problems.isEmpty()) {
                others.put(name, problems);
            }
        });
        assertEquals(Map.of(), others, fixture + " should break only '" + check + "'");
    }
}
