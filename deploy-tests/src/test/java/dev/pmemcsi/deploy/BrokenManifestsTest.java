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
