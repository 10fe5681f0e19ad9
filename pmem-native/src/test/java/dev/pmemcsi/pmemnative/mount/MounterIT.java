package dev.pmemcsi.pmemnative.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pmemcsi.pmemnative.Native;
import dev.pmemcsi.pmemnative.NativeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import jnr.constants.platform.Errno;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Binds with per-mount flags into a shared directory that has a peer, as the kubelet dir has
 * when the driver runs in a container: the peer must see the flags too. Needs root.
 */
class MounterIT {

    private static final long MS_SHARED = 1L << 20;

    @TempDir
    Path dir;
    private Path shared;
    private Path peer;
    private Path source;
    private Path privateDir;
    private Mounter mounter;

    @BeforeAll
    static void needsRoot() {
        assumeTrue("root".equals(System.getProperty("user.name")), "mount tests need root");
    }

    @BeforeEach
    void sharedDirWithAPeer() throws Exception {
        shared = Files.createDirectory(dir.resolve("shared"));
        peer = Files.createDirectory(dir.resolve("peer"));
        source = Files.createDirectory(dir.resolve("source"));
        Files.writeString(source.resolve("data"), "data");
        privateDir = dir.resolve("state/private-binds");
        mounter = new Mounter(privateDir);
        mounter.bind(shared, shared, 0);
        makeShared(shared);
        mounter.bind(shared, peer, 0);
    }

    @AfterEach
    void unmountEverything() throws Exception {
        List<MountInfo> left = MountTable.read().under(dir);
        for (int i = left.size() - 1; i >= 0; i--) {
            Path p = Path.of(left.get(i).mountPoint());
            // unmounting one peer takes its copies in the others with it
            while (MountTable.read().isMountPoint(p)) {
                new Mounter().unmount(p);
            }
        }
        assertEquals(List.of(), left.stream().map(MountInfo::mountPoint)
                .filter(m -> m.startsWith(privateDir + "/")).toList(), "private binds left mounted");
    }

    private static MountInfo at(Path p) throws IOException {
        return MountTable.read().top(p).orElseThrow(() -> new AssertionError("nothing mounted at " + p));
    }

    private void assertNothingPrivateLeft() throws IOException {
        assertEquals(List.of(), MountTable.read().under(privateDir), "private binds left mounted");
        try (var s = Files.list(privateDir)) {
            assertEquals(List.of(), s.toList(), "private places left behind");
        }
    }

    @Test
    void readOnlyBindIsReadOnlyInThePeer() throws Exception {
        Path target = Files.createDirectory(shared.resolve("target"));
        mounter.bind(source, target, MountOptions.MS_RDONLY | MountOptions.MS_NOSUID | MountOptions.MS_NODEV
                | MountOptions.MS_NOEXEC);
        Path copy = peer.resolve("target");
        for (Path p : List.of(target, copy)) {
            assertEquals("data", Files.readString(p.resolve("data")));
            IOException e = assertThrows(IOException.class, () -> Files.writeString(p.resolve("x"), "x"));
            assertTrue(String.valueOf(e.getMessage()).contains("Read-only file system"), e.toString());
            assertTrue(at(p).mountOptions().containsAll(List.of("ro", "nosuid", "nodev", "noexec")), at(p).toString());
        }
        assertNothingPrivateLeft();
    }

    @Test
    void bindWithoutFlagsIsWritableInThePeer() throws Exception {
        Path target = Files.createDirectory(shared.resolve("target"));
        mounter.bind(source, target, 0);
        Files.writeString(peer.resolve("target/x"), "from the peer");
        assertEquals("from the peer", Files.readString(source.resolve("x")));
        assertFalse(at(peer.resolve("target")).mountOptions().contains("ro"));
    }

    @Test
    void aDeviceNodeIsBoundOntoAFileReadOnly() throws Exception {
        Path target = Files.createFile(shared.resolve("device"));
        mounter.bind(Path.of("/dev/null"), target, MountOptions.MS_RDONLY);
        assertTrue(at(peer.resolve("device")).mountOptions().contains("ro"), at(peer.resolve("device")).toString());
        assertNothingPrivateLeft();
    }

    @Test
    void aFailedBindLeavesNothingMounted() throws Exception {
        Path missing = shared.resolve("missing");
        NativeException e = assertThrows(NativeException.class, () -> mounter.bind(source, missing, MountOptions.MS_RDONLY));
        assertTrue(e.is(Errno.ENOENT), e.toString());
        assertFalse(MountTable.read().isMountPoint(missing));
        assertNothingPrivateLeft();
    }

    @Test
    void whatACrashLeftInThePrivateDirectoryIsReleased() throws Exception {
        // What a bind interrupted between its private steps leaves.
        Path place = Files.createDirectories(privateDir.resolve("interrupted"));
        Path point = Files.createDirectory(place.resolve("mount"));
        mounter.bind(place, place, 0);
        mounter.bind(source, point, 0);
        Files.createDirectories(privateDir.resolve("unmounted/mount"));

        assertEquals(2, mounter.releasePrivateBinds());
        assertNothingPrivateLeft();
        assertEquals(0, mounter.releasePrivateBinds());
    }

    @Test
    void aMounterWithoutPrivateDirectoryRefusesFlags() throws Exception {
        Path target = Files.createDirectory(shared.resolve("target"));
        assertThrows(IllegalStateException.class, () -> new Mounter().bind(source, target, MountOptions.MS_RDONLY));
        assertFalse(MountTable.read().isMountPoint(target));
    }

    /** mount --make-shared, which the driver itself never needs. */
    private static void makeShared(Path p) throws NativeException {
        Native.check(Native.libc().mount(null, p.toString(), null, MS_SHARED, null), "mount(" + p + ", MS_SHARED)");
    }
}
