package dev.pmemcsi.device.emulated;

import static dev.pmemcsi.device.emulated.EmulatedFixture.ALIGN;
import static dev.pmemcsi.device.emulated.EmulatedFixture.MIB;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.device.DeviceException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The emulated directory is trusted like the state dir: owned by the driver's user and writable
 * by no one else, and its region files are regular files of that user, never followed through a
 * symlink. Needs root.
 */
class EmulatedDirSafetyIT {

    private static final long REGION = 64 * MIB;
    private static final byte[] SECRET = "root-only content\n".getBytes();

    @TempDir
    Path tmp;
    private EmulatedFixture fx;
    private Path secret;

    @BeforeEach
    void setUp() throws Exception {
        fx = new EmulatedFixture(tmp.resolve("pmem"), List.of(REGION));
        Path outside = Files.createDirectory(tmp.resolve("outside"));
        secret = Files.write(outside.resolve("shadow"), SECRET);
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
    }

    @AfterEach
    void clean() throws Exception {
        fx.verifyCleanAndClose();
    }

    private DeviceException refused() {
        return assertThrows(DeviceException.class, () -> fx.manager().start());
    }

    private void assertSecretUntouched() throws Exception {
        assertEquals(SECRET.length, Files.size(secret), "the link's target was not grown");
        assertArrayEquals(SECRET, Files.readAllBytes(secret));
    }

    @Test
    void aNewDirectoryIsPrivate() throws Exception {
        fx.started().close();
        assertEquals("rwxr-x---", PosixFilePermissions.toString(Files.getPosixFilePermissions(fx.dir)));
    }

    @Test
    void aDirectoryWritableByOthersIsRefusedAndNothingInItIsFollowed() throws Exception {
        Files.createDirectory(fx.dir);
        Files.setPosixFilePermissions(fx.dir, PosixFilePermissions.fromString("rwxrwxrwx"));
        Files.createSymbolicLink(fx.dir.resolve("region0.img"), secret);
        DeviceException e = refused();
        assertTrue(e.getMessage().contains("writable by group or others"), e.getMessage());
        assertSecretUntouched();
        assertFalse(Files.exists(fx.dir.resolve(EmulatedDeviceManager.TABLE_FILE)), "nothing written");
        Files.setPosixFilePermissions(fx.dir, PosixFilePermissions.fromString("rwxrwx---"));
        assertTrue(refused().getMessage().contains("writable by group or others"));
    }

    @Test
    void aDirectoryOwnedBySomeoneElseIsRefused() throws Exception {
        Files.createDirectory(fx.dir);
        Files.setPosixFilePermissions(fx.dir, PosixFilePermissions.fromString("rwxr-x---"));
        UserPrincipal nobody = tmp.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody");
        Files.setOwner(fx.dir, nobody);
        DeviceException e = refused();
        assertTrue(e.getMessage().contains("refusing to trust"), e.getMessage());
    }

    @Test
    void aSymlinkedRegionFileIsRefusedInAPrivateDirectory() throws Exception {
        Files.createDirectory(fx.dir);
        Files.setPosixFilePermissions(fx.dir, PosixFilePermissions.fromString("rwxr-x---"));
        Files.createSymbolicLink(fx.dir.resolve("region0.img"), secret);
        DeviceException e = refused();
        assertTrue(e.getMessage().contains("region0.img") && e.getMessage().contains("not a regular file"), e.getMessage());
        assertSecretUntouched();
        assertTrue(Files.isSymbolicLink(fx.dir.resolve("region0.img")));
    }

    @Test
    void aRegionFileOwnedBySomeoneElseOrNotARegularFileIsRefused() throws Exception {
        Files.createDirectory(fx.dir);
        Files.setPosixFilePermissions(fx.dir, PosixFilePermissions.fromString("rwxr-x---"));
        Path region = Files.createFile(fx.dir.resolve("region0.img"));
        Files.setOwner(region, tmp.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody"));
        DeviceException e = refused();
        assertTrue(e.getMessage().contains("region0.img") && e.getMessage().contains("owned by nobody"), e.getMessage());
        assertEquals(0, Files.size(region), "not grown");
        Files.delete(region);
        Files.createDirectory(region);
        e = refused();
        assertTrue(e.getMessage().contains("not a regular file"), e.getMessage());
        Files.delete(region);
        // Now a healthy directory: the driver starts, and the region file is its own.
        EmulatedDeviceManager m = fx.started();
        assertEquals(REGION, Files.size(region));
        assertTrue(Files.isRegularFile(region, LinkOption.NOFOLLOW_LINKS));
        assertEquals(REGION, m.capacity().availableBytes());
        assertEquals(0, REGION % ALIGN);
    }
}
