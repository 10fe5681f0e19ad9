package dev.pmemcsi.reliability;

import static dev.pmemcsi.reliability.Csi.MIB;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.csi.v1.Volume;
import io.grpc.Status.Code;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Security properties of the running driver: who may reach its socket, which directories it
 * trusts, where it mounts, and that deleted data is zero when read back.
 */
class SecurityIT {

    @Test
    void theSocketIsRootsAndItsGroupsOnly() throws Exception {
        try (Workspace ws = new Workspace("sec-socket"); DriverProcess d = DriverProcess.start(ws)) {
            Path sock = ws.socketDir().resolve("csi.sock");
            PosixFileAttributes a = Files.readAttributes(sock, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            assertTrue(a.isOther(), "a socket");
            assertEquals("rw-rw----", PosixFilePermissions.toString(a.permissions()));
            assertEquals("root", a.owner().getName());
            PosixFileAttributes dir = Files.readAttributes(ws.socketDir(), PosixFileAttributes.class);
            assertEquals("root", dir.owner().getName());
            assertFalse(PosixFilePermissions.toString(dir.permissions()).matches(".{4}w.*|.{7}w.*"),
                    "the socket dir is writable by no one else: " + PosixFilePermissions.toString(dir.permissions()));
            PosixFileAttributes state = Files.readAttributes(ws.state(), PosixFileAttributes.class);
            assertEquals("rwxr-x---", PosixFilePermissions.toString(state.permissions()), "a state dir it creates");
        }
    }

    private static void assertRefusesToStart(Workspace ws, String why) throws Exception {
        DriverProcess d = DriverProcess.launch(ws, null, List.of(), List.of());
        int rc = d.awaitExit(Duration.ofSeconds(60));
        assertTrue(rc != 0, why + ": the driver started anyway");
        assertTrue(d.log().contains("refusing to trust") || d.log().contains("writable by group or others"),
                why + ": no reason given:\n" + d.logTail());
        assertFalse(Files.exists(ws.socketDir().resolve("csi.sock")), why + ": a socket was created");
        assertFalse(Files.exists(ws.emulated()), why + ": the backend was touched");
    }

    @Test
    void aStateDirWritableOrOwnedByOthersIsRefused() throws Exception {
        try (Workspace ws = new Workspace("sec-state")) {
            Files.createDirectory(ws.state());
            Files.setPosixFilePermissions(ws.state(), PosixFilePermissions.fromString("rwxrwxrwx"));
            assertRefusesToStart(ws, "world-writable state dir");
            Files.setPosixFilePermissions(ws.state(), PosixFilePermissions.fromString("rwxrwx---"));
            assertRefusesToStart(ws, "group-writable state dir");
            Files.setPosixFilePermissions(ws.state(), PosixFilePermissions.fromString("rwxr-x---"));
            UserPrincipal nobody = ws.root.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody");
            Files.setOwner(ws.state(), nobody);
            assertRefusesToStart(ws, "state dir owned by nobody");
        }
    }

    @Test
    void aSocketDirWritableOrOwnedByOthersIsRefused() throws Exception {
        try (Workspace ws = new Workspace("sec-sockdir")) {
            Files.createDirectory(ws.socketDir());
            Files.setPosixFilePermissions(ws.socketDir(), PosixFilePermissions.fromString("rwxrwxrwx"));
            assertRefusesToStart(ws, "world-writable socket dir");
            Files.setPosixFilePermissions(ws.socketDir(), PosixFilePermissions.fromString("rwxr-x---"));
            Files.setOwner(ws.socketDir(), ws.root.getFileSystem().getUserPrincipalLookupService()
                    .lookupPrincipalByName("nobody"));
            assertRefusesToStart(ws, "socket dir owned by nobody");
        }
    }

    @Test
    void aSymlinkedStateDirIsRefused() throws Exception {
        try (Workspace ws = new Workspace("sec-link")) {
            Path real = Files.createDirectory(ws.outside().resolve("state"));
            Files.createSymbolicLink(ws.state(), real);
            DriverProcess d = DriverProcess.launch(ws, null, List.of(), List.of());
            assertTrue(d.awaitExit(Duration.ofSeconds(60)) != 0, "the driver started over a symlinked state dir");
            try (var s = Files.list(real)) {
                assertEquals(0, s.count(), "nothing was written through the link");
            }
        }
    }

    /**
     * A second driver over the same state dir, on a socket of its own, would reconcile (and could
     * unstage) the first one's volumes: it must refuse before it binds a socket or starts a backend.
     * The refusal does not depend on the backend; on the emulated one the second driver gets a
     * region directory of its own, so that the backend's own lock cannot be what stops it.
     */
    @Test
    void aSecondDriverOnTheSameStateDirRefusesAndTouchesNothing() throws Exception {
        try (Workspace ws = new Workspace("sec-twice"); DriverProcess first = DriverProcess.start(ws)) {
            Csi csi = first.csi();
            String id = csi.create("sec-twice", 64 * MIB).getVolumeId();
            Path staging = ws.newStagingPath();
            csi.stage(id, staging, Csi.mount());
            byte[] records = Files.readAllBytes(ws.state().resolve("driver.lock"));

            Path otherSocket = ws.root.resolve("sock2/csi.sock");
            Path otherRegions = ws.root.resolve("emulated2");
            List<String> extra = BackendKind.current() == BackendKind.EMULATED
                    ? List.of("--emulated-dir", otherRegions.toString()) : List.of();
            DriverProcess second = DriverProcess.launchAnother(ws, "unix://" + otherSocket, extra,
                    ws.root.resolve("second.log"));
            try {
                int rc = second.awaitExit(Duration.ofSeconds(60));
                assertEquals(2, rc, "exit code of a driver that cannot start as configured:\n" + second.logTail());
                List<String> lines = Files.readAllLines(ws.root.resolve("second.log")).stream()
                        .filter(l -> !l.startsWith("---- ")).toList();
                assertEquals(List.of("pmem-csi-driver: state dir " + ws.state() + " is in use by another driver (PID "
                        + first.pid() + "); only one driver may run per state dir"), lines, "one line, naming the holder");
            } finally {
                second.close();
            }
            assertFalse(Files.exists(otherSocket, LinkOption.NOFOLLOW_LINKS), "the second driver bound no socket");
            assertFalse(Files.exists(otherRegions), "the second driver started no backend");
            assertTrue(Files.exists(ws.socketDir().resolve("csi.sock")), "the first driver's socket is in place");
            assertEquals(new String(records), Files.readString(ws.state().resolve("driver.lock")),
                    "the lock still names the first driver");
            assertEquals(List.of(staging.toString()), Host.mountsUnder(ws.root), "the staging is still mounted");
            assertEquals(List.of(id), csi.listAll().stream().map(Volume::getVolumeId).toList());

            csi.unstage(id, staging);
            csi.delete(id);
            first.stop();
            ws.assertNothingHeld();
        }
    }

    @Test
    void aMissingKubeletDirIsRefusedNamingTheFlag() throws Exception {
        try (Workspace ws = new Workspace("sec-kubelet")) {
            Workspace.deleteTree(ws.kubelet());
            DriverProcess d = DriverProcess.launch(ws, null, List.of(), List.of());
            assertTrue(d.awaitExit(Duration.ofSeconds(60)) != 0, "the driver started without a kubelet dir");
            assertTrue(d.log().contains("--kubelet-dir " + ws.kubelet() + " does not exist"), d.logTail());
            assertFalse(Files.exists(ws.socketDir().resolve("csi.sock")), "a socket was left");
        }
    }

    /**
     * Only kubelet's trees: a host directory, a parent symlink out of the trees, the driver's own
     * state and a host file are refused and left exactly as they were; a non-empty file in a pod is
     * never bound over.
     */
    @Test
    void pathsOutsideTheKubeletTreesAreRefusedAndLeftUntouched() throws Exception {
        try (Workspace ws = new Workspace("sec-confine"); DriverProcess d = DriverProcess.start(ws)) {
            Csi csi = d.csi();
            String id = csi.create("sec-confine", 64 * MIB).getVolumeId();
            Path hostDir = Files.createDirectory(ws.outside().resolve("data"));
            Files.writeString(hostDir.resolve("precious"), "precious");
            Path hostFile = Files.writeString(ws.outside().resolve("empty-file"), "");
            Path escape = Files.createSymbolicLink(ws.plugins().resolve("escape"), ws.outside());
            for (Path p : List.of(hostDir, escape.resolve("globalmount"), ws.state(), ws.state().resolve("emulated"),
                    ws.plugins())) {
                assertEquals(Code.INVALID_ARGUMENT, Csi.codeOf(() -> csi.stage(id, p, Csi.mount())), p.toString());
                assertEquals(Code.INVALID_ARGUMENT, Csi.codeOf(() -> csi.unstage(id, p)), p.toString());
            }
            Path staging = ws.newStagingPath();
            csi.stage(id, staging, Csi.block());
            assertEquals(Code.INVALID_ARGUMENT, Csi.codeOf(() -> csi.publish(id, staging, hostFile, Csi.block())));
            assertEquals(Code.INVALID_ARGUMENT, Csi.codeOf(() -> csi.unpublish(id, hostFile)));
            Path podFile = ws.newTargetPath();
            Files.writeString(podFile, "not empty");
            assertEquals(Code.FAILED_PRECONDITION, Csi.codeOf(() -> csi.publish(id, staging, podFile, Csi.block())));
            assertEquals("not empty", Files.readString(podFile));
            assertEquals("precious", Files.readString(hostDir.resolve("precious")));
            assertTrue(Files.exists(hostFile), "the host file was not deleted");
            assertFalse(Files.exists(ws.outside().resolve("globalmount")), "nothing was made through the link");
            assertEquals(List.of(), Host.mountsUnder(ws.root));
            csi.unstage(id, staging);
            csi.delete(id);
            d.stop();
            ws.assertNothingHeld();
        }
    }

    /**
     * An emulated dir others can write to would let them plant a region file that links to any
     * file of root's, which the driver would grow and zero: refused like the state dir.
     */
    @Test
    void anEmulatedDirWritableByOthersOrASymlinkedRegionFileIsRefused() throws Exception {
        Assumptions.assumeTrue(BackendKind.current() == BackendKind.EMULATED, "emulated backend only");
        try (Workspace ws = new Workspace("sec-emul")) {
            Files.createDirectory(ws.state());
            Files.setPosixFilePermissions(ws.state(), PosixFilePermissions.fromString("rwxr-x---"));
            Files.createDirectory(ws.emulated());
            Files.setPosixFilePermissions(ws.emulated(), PosixFilePermissions.fromString("rwxrwxrwx"));
            byte[] secret = "root only\n".getBytes();
            Path target = Files.write(ws.outside().resolve("shadow"), secret);
            Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rw-------"));
            Files.createSymbolicLink(ws.emulated().resolve("region0.img"), target);
            for (String why : List.of("world-writable emulated dir", "symlinked region file")) {
                DriverProcess d = DriverProcess.launch(ws, null, List.of(), List.of());
                int rc = d.awaitExit(Duration.ofSeconds(60));
                assertTrue(rc != 0, why + ": the driver started anyway");
                String expected = why.startsWith("world") ? "writable by group or others" : "not a regular file";
                assertTrue(d.log().contains(expected), why + ": no reason given:\n" + d.logTail());
                assertArrayEquals(secret, Files.readAllBytes(target), why + ": the link's target was changed");
                Files.setPosixFilePermissions(ws.emulated(), PosixFilePermissions.fromString("rwxr-x---"));
            }
            assertFalse(Files.exists(ws.emulated().resolve("volumes.json")), "no table was written");
        }
    }

    /** Mounts land only where asked, never through a symlink; deleted data reads back as zeros. */
    @Test
    void mountsStayInTheGivenTreesAndErasedDataReadsBackAsZeros() throws Exception {
        try (Workspace ws = new Workspace("sec-erase"); DriverProcess d = DriverProcess.start(ws)) {
            Csi csi = d.csi();
            Volume v = csi.create("sec-erase", 64 * MIB);
            String id = v.getVolumeId();
            Path staging = ws.newStagingPath();
            Path pod = ws.newTargetPath().getParent();
            Path link = Files.createSymbolicLink(pod.resolve("mount"), ws.outside());
            assertEquals(Code.INVALID_ARGUMENT, Csi.codeOf(() -> csi.stage(id, link, Csi.mount())));
            csi.stage(id, staging, Csi.mount());
            assertEquals(Code.INVALID_ARGUMENT, Csi.codeOf(() -> csi.publish(id, staging, link, Csi.mount())));
            assertEquals(Code.INVALID_ARGUMENT, Csi.codeOf(() -> csi.publish(id, staging,
                    Path.of(pod + "/../../" + ws.outside().getFileName()), Csi.mount())));
            assertEquals(List.of(staging.toString()), Host.mountsUnder(ws.root));
            Files.delete(link);
            Path target = pod.resolve("mount");
            csi.publish(id, staging, target, Csi.mount());
            byte[] data = new byte[8 << 20];
            new Random(7).nextBytes(data);
            Files.write(target.resolve("secret"), data);
            csi.unpublish(id, target);
            csi.unstage(id, staging);
            Backend backend = new Backend(ws);
            Backend.Row row = backend.row(id);
            assertFalse(backend.extentIsZero(row));
            csi.delete(id);
            assertTrue(backend.extentIsZero(row), "every byte of the deleted volume reads back as zero");
            d.stop();
            ws.assertNothingHeld();
        }
    }
}
