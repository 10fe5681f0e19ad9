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
