package dev.pmemcsi.deploy;

import dev.pmemcsi.device.CapacityMath;
import dev.pmemcsi.device.VolumeMode;
import dev.pmemcsi.device.emulated.EmulatedDeviceManager;
import io.fabric8.kubernetes.api.model.CSIVolumeSource;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimSpec;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.storage.CSIDriver;
import io.fabric8.kubernetes.api.model.storage.StorageClass;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The examples in deploy/examples refer to what the deployment actually provides. */
class ExamplesTest {
    private static final Set<String> INLINE_ATTRIBUTES = Set.of("size", "eraseafter", "usage", "persistencyModel", "kataContainers");

    private static Manifests deployment;
    private static List<Manifests> examples;

    @BeforeAll
    static void load() throws IOException {
        deployment = Manifests.render(Repo.kubernetes("overlays/direct"));
        try (Stream<Path> files = Files.list(Repo.root().resolve("deploy/examples"))) {
            examples = files.filter(f -> f.toString().endsWith(".yaml")).sorted()
                    .map(Manifests::read).collect(Collectors.toList());
        }
        assertEquals(8, examples.size(), "deploy/examples changed: review this test");
    }

    private static <T extends io.fabric8.kubernetes.api.model.HasMetadata> List<T> all(Class<T> type) {
        return examples.stream().flatMap(m -> m.all(type).stream()).collect(Collectors.toList());
    }

    @Test
    void claimsUseStorageClassesTheDeploymentProvides() {
        Set<String> classes = deployment.all(StorageClass.class).stream()
                .map(c -> c.getMetadata().getName()).collect(Collectors.toSet());
        List<PersistentVolumeClaimSpec> claims = new ArrayList<>();
        all(PersistentVolumeClaim.class).forEach(c -> claims.add(c.getSpec()));
        for (Pod pod : all(Pod.class)) {
            for (Volume volume : volumes(pod)) {
                if (volume.getEphemeral() != null) {
                    claims.add(volume.getEphemeral().getVolumeClaimTemplate().getSpec());
                }
            }
        }
        assertTrue(claims.size() >= 4, "expected PVC, block PVC, DAX check PVC and a generic ephemeral volume");
        for (PersistentVolumeClaimSpec claim : claims) {
            assertTrue(classes.contains(claim.getStorageClassName()), "unknown StorageClass " + claim.getStorageClassName());
            assertEquals(List.of("ReadWriteOnce"), claim.getAccessModes());
        }
    }

    @Test
    void genericEphemeralVolumeAsksForFourGi() {
        Volume ephemeral = all(Pod.class).stream().flatMap(p -> volumes(p).stream())
                .filter(v -> v.getEphemeral() != null).findFirst().orElseThrow();
        Quantity size = ephemeral.getEphemeral().getVolumeClaimTemplate().getSpec().getResources().getRequests().get("storage");
        assertEquals(new BigDecimal(4L << 30), size.getNumericalAmount());
    }

    @Test
    void inlineVolumesNameTheDriverAndASize() {
        CSIDriver driver = deployment.one(CSIDriver.class);
        assertTrue(driver.getSpec().getVolumeLifecycleModes().contains("Ephemeral"));
        List<CSIVolumeSource> inline = all(Pod.class).stream().flatMap(p -> volumes(p).stream())
                .map(Volume::getCsi).filter(Objects::nonNull).collect(Collectors.toList());
        assertFalse(inline.isEmpty(), "no CSI ephemeral inline example");
        for (CSIVolumeSource csi : inline) {
            assertEquals(driver.getMetadata().getName(), csi.getDriver());
            assertTrue(Set.of("ext4", "xfs").contains(csi.getFsType()), "fsType " + csi.getFsType());
            assertTrue(INLINE_ATTRIBUTES.containsAll(csi.getVolumeAttributes().keySet()), csi.getVolumeAttributes().toString());
            assertTrue(new Quantity(csi.getVolumeAttributes().get("size")).getNumericalAmount().signum() > 0);
        }
    }

    @Test
    void rawBlockPodUsesTheDeviceOfABlockClaim() {
        PersistentVolumeClaim block = all(PersistentVolumeClaim.class).stream()
                .filter(c -> "Block".equals(c.getSpec().getVolumeMode())).findFirst().orElseThrow();
        Pod pod = all(Pod.class).stream().filter(p -> volumes(p).stream().anyMatch(v -> v.getPersistentVolumeClaim() != null
                && block.getMetadata().getName().equals(v.getPersistentVolumeClaim().getClaimName()))).findFirst().orElseThrow();
        Container container = pod.getSpec().getContainers().get(0);
        assertNotNull(container.getVolumeDevices(), "a Block claim is used through volumeDevices");
        assertTrue(container.getVolumeMounts() == null || container.getVolumeMounts().isEmpty());
    }

    @Test
    void daxCheckPodRunsTheScriptFromItsConfigMap() {
        Pod pod = all(Pod.class).stream().filter(p -> p.getMetadata().getName().equals("pmem-dax-check")).findFirst().orElseThrow();
        ConfigMap script = all(ConfigMap.class).stream().filter(c -> c.getMetadata().getName().equals("pmem-dax-check"))
                .findFirst().orElseThrow();
        Container check = pod.getSpec().getContainers().get(0);
        String mountPath = check.getVolumeMounts().stream()
                .filter(m -> volumes(pod).stream().anyMatch(v -> v.getName().equals(m.getName()) && v.getConfigMap() != null
                        && v.getConfigMap().getName().equals(script.getMetadata().getName())))
                .findFirst().orElseThrow().getMountPath();
        String scriptName = script.getData().keySet().iterator().next();
        assertTrue(check.getCommand().contains(mountPath + "/" + scriptName), check.getCommand().toString());
        assertEquals("Never", pod.getSpec().getRestartPolicy(), "the check runs once and reports through its phase");
    }

    /**
     * The DAX check must tell a non-DAX filesystem apart: on tmpfs (/dev/shm) the kernel refuses
     * MAP_SYNC with EOPNOTSUPP and the script fails. (The positive case needs real or emulated PMEM.)
     */
    @Test
    void daxCheckScriptRejectsANonDaxFilesystem() throws Exception {
        ConfigMap configMap = all(ConfigMap.class).stream().filter(c -> c.getMetadata().getName().equals("pmem-dax-check"))
                .findFirst().orElseThrow();
        Path script = Files.createTempFile("dax_check", ".py");
        try {
            Files.writeString(script, configMap.getData().get("dax_check.py"));
            Process process;
            try {
                process = new ProcessBuilder(List.of("python3", script.toString(), "/dev/shm")).redirectErrorStream(true).start();
            } catch (IOException e) {
                throw new AssertionError("python3 is needed to test deploy/examples/dax-check-pod.yaml: " + e.getMessage(), e);
            }
            process.getOutputStream().close();
            CompletableFuture<String> output = CompletableFuture.supplyAsync(() -> {
                try {
                    return new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            });
            assertTrue(process.waitFor(30, TimeUnit.SECONDS), "dax check did not finish");
            String text = output.join();
            assertEquals(1, process.exitValue(), text);
            assertTrue(text.contains("DAX mount: NO"), text);
            assertTrue(text.contains("MAP_SYNC mmap refused: [Errno 95]"), text);
            assertTrue(text.contains("FAIL: the volume is not usable as persistent memory"), text);
            try (Stream<Path> left = Files.list(Path.of("/dev/shm"))) {
                assertTrue(left.noneMatch(p -> p.getFileName().toString().equals(".map-sync-probe")), "probe file left behind");
            }
        } finally {
            Files.deleteIfExists(script);
        }
    }

    /**
     * The emulated overlay is what the documented kind walkthrough installs: every example must
     * find room there, all of them at once, by the driver's own arithmetic (fsdax metadata, the
     * regions' 16 MiB allocation unit, one volume within one region).
     */
    @Test
    void everyExampleFitsTheEmulatedOverlayAllAtOnce() {
        String spec = ContainerArgs.of(new DeploymentChecks(Manifests.render(Repo.kubernetes("overlays/emulated")),
                DriverHelp.longOptions()).container(DeploymentChecks.DRIVER)).value("--emulated-regions").orElseThrow();
        List<Long> regions = EmulatedDeviceManager.parseRegionSizes(spec);
        long alignment = EmulatedDeviceManager.DEFAULT_ALIGNMENT;
        List<Long> requests = new ArrayList<>();
        all(PersistentVolumeClaim.class).forEach(c -> requests.add(bytes(c.getSpec().getResources().getRequests().get("storage"))));
        for (Pod pod : all(Pod.class)) {
            for (Volume v : volumes(pod)) {
                if (v.getEphemeral() != null) {
                    requests.add(bytes(v.getEphemeral().getVolumeClaimTemplate().getSpec().getResources().getRequests().get("storage")));
                } else if (v.getCsi() != null) {
                    requests.add(bytes(new Quantity(v.getCsi().getVolumeAttributes().get("size"))));
                }
            }
        }
        assertEquals(7, requests.size(), "examples' volumes: " + requests);
        long largest = regions.stream().mapToLong(r -> CapacityMath.usableBytes(VolumeMode.FSDAX, r)).max().orElseThrow();
        long[] free = regions.stream().mapToLong(Long::longValue).toArray();
        requests.sort(java.util.Comparator.reverseOrder());
        for (long request : requests) {
            assertTrue(request <= largest, request + " bytes asked, the largest volume of " + spec + " is " + largest);
            long raw = CapacityMath.rawBytesFor(VolumeMode.FSDAX, request, alignment);
            int region = 0;
            while (region < free.length && free[region] < raw) {
                region++;
            }
            assertTrue(region < free.length, "no room left for " + request + " bytes in regions " + spec
                    + " after the larger examples; free: " + java.util.Arrays.toString(free));
            free[region] -= raw;
        }
    }

    /** The snapshot example uses the class components/snapshots ships, of a claim the examples create. */
    @Test
    void volumeSnapshotTakesAnExampleClaimWithTheDeploymentsClass() {
        VolumeSnapshot snapshot = examples.stream().flatMap(m -> m.all(VolumeSnapshot.class).stream())
                .collect(Collectors.collectingAndThen(Collectors.toList(), l -> {
                    assertEquals(1, l.size(), "one VolumeSnapshot example");
                    return l.get(0);
                }));
        VolumeSnapshotClass snapshotClass = deployment.named(VolumeSnapshotClass.class,
                snapshot.getSpec().volumeSnapshotClassName);
        assertEquals(deployment.one(CSIDriver.class).getMetadata().getName(), snapshotClass.driver);
        assertNull(snapshot.getSpec().source.volumeSnapshotContentName, "a dynamic snapshot, not an imported one");
        PersistentVolumeClaim source = claim(snapshot.getSpec().source.persistentVolumeClaimName);
        assertTrue(all(Pod.class).stream().anyMatch(p -> "Never".equals(p.getSpec().getRestartPolicy())
                        && volumes(p).stream().anyMatch(v -> v.getPersistentVolumeClaim() != null
                        && source.getMetadata().getName().equals(v.getPersistentVolumeClaim().getClaimName()))),
                "a pod populates the claim once before the snapshot");
    }

    /** The "many readers of one data set" example: a generic ephemeral volume restored from it, read-only. */
    @Test
    void readerRestoresTheSnapshotIntoAReadOnlyEphemeralVolume() {
        VolumeSnapshot snapshot = examples.stream().flatMap(m -> m.all(VolumeSnapshot.class).stream()).findFirst().orElseThrow();
        List<Pod> readers = all(Pod.class).stream().filter(p -> volumes(p).stream().anyMatch(v -> v.getEphemeral() != null
                && v.getEphemeral().getVolumeClaimTemplate().getSpec().getDataSource() != null)).toList();
        assertEquals(1, readers.size(), "one restore example");
        Pod reader = readers.get(0);
        Volume restored = volumes(reader).stream().filter(v -> v.getEphemeral() != null).findFirst().orElseThrow();
        PersistentVolumeClaimSpec spec = restored.getEphemeral().getVolumeClaimTemplate().getSpec();
        assertEquals("snapshot.storage.k8s.io", spec.getDataSource().getApiGroup());
        assertEquals("VolumeSnapshot", spec.getDataSource().getKind());
        assertEquals(snapshot.getMetadata().getName(), spec.getDataSource().getName());
        PersistentVolumeClaim source = claim(snapshot.getSpec().source.persistentVolumeClaimName);
        assertTrue(bytes(spec.getResources().getRequests().get("storage"))
                        >= bytes(source.getSpec().getResources().getRequests().get("storage")),
                "a restore is at least the snapshot's size");
        List<io.fabric8.kubernetes.api.model.VolumeMount> mounts = reader.getSpec().getContainers().stream()
                .flatMap(c -> c.getVolumeMounts().stream()).filter(m -> m.getName().equals(restored.getName())).toList();
        assertFalse(mounts.isEmpty(), "the restored volume is mounted");
        mounts.forEach(m -> assertEquals(Boolean.TRUE, m.getReadOnly(), m.getMountPath() + " is mounted read-only"));
    }

    private static PersistentVolumeClaim claim(String name) {
        return all(PersistentVolumeClaim.class).stream().filter(c -> c.getMetadata().getName().equals(name))
                .findFirst().orElseThrow(() -> new AssertionError("no example claim " + name));
    }

    private static long bytes(Quantity q) {
        return q.getNumericalAmount().longValueExact();
    }

    private static List<Volume> volumes(Pod pod) {
        return pod.getSpec().getVolumes() == null ? List.of() : pod.getSpec().getVolumes();
    }
}
