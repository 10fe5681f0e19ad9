package dev.pmemcsi.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.driver.InvalidRequestException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NodePathsTest {

    @TempDir
    Path tmp;

    @Test
    void acceptsAbsoluteNormalisedPaths() throws Exception {
        assertEquals(Path.of("/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/pv/mount"),
                NodePaths.parse("target_path", "/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/pv/mount"));
        assertEquals(Path.of("/a/b"), NodePaths.parse("target_path", "/a//b/"));
    }

    @Test
    void refusesTraversalRelativeRootAndEmpty() {
        for (String bad : new String[] {"", "relative/path", "/a/../etc", "/a/./b", "/..", "/", "/a\0b", "/a\nb"}) {
            InvalidRequestException e = assertThrows(InvalidRequestException.class,
                    () -> NodePaths.parse("target_path", bad), bad);
            org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().startsWith("target_path"), e.getMessage());
        }
    }

    private Path kubelet;
    private Path plugins;
    private Path pods;
    private Path state;
    private Path emulated;
    private Path socketDir;
    private NodePaths paths;

    @BeforeEach
    void setUp() throws Exception {
        kubelet = Files.createDirectories(tmp.resolve("kubelet"));
        plugins = Files.createDirectories(kubelet.resolve("plugins"));
        pods = Files.createDirectories(kubelet.resolve("pods"));
        // As a DaemonSet keeps them: socket and state below kubelet's plugin tree.
        socketDir = Files.createDirectories(plugins.resolve("pmem-csi.dev"));
        state = Files.createDirectories(socketDir.resolve("state"));
        emulated = state.resolve("emulated");
        paths = NodePaths.confinedTo(kubelet, List.of(state, emulated, socketDir));
    }

    private void assertRefused(Path p) {
        InvalidRequestException e = assertThrows(InvalidRequestException.class,
                () -> paths.confine("staging_target_path", p), p.toString());
        assertTrue(e.getMessage().startsWith("staging_target_path"), e.getMessage());
        assertFalse(paths.allows(p), p.toString());
    }

    @Test
    void acceptsPathsStrictlyBelowPluginsAndPods() throws Exception {
        Path staging = plugins.resolve("kubernetes.io/csi/pmem-csi.dev/pv-1/globalmount");
        assertEquals(staging, paths.confine("staging_target_path", staging));
        Path target = pods.resolve("uid/volumes/kubernetes.io~csi/pv-1/mount");
        assertEquals(target, paths.confine("target_path", target));
        assertTrue(paths.allows(target));
        Files.createDirectories(target.getParent());
        assertEquals(target, paths.resolve("target_path", target));
    }

    @Test
    void refusesTheTreesThemselvesAndEverythingOutside() {
        for (Path p : List.of(plugins, pods, kubelet, kubelet.resolve("plugins_registry/x"), kubelet.resolve("podsx/y"),
                tmp.resolve("outside"), Path.of("/etc"), Path.of("/usr/bin"), Path.of("/var/lib/kubelet-not/pods/x"))) {
            assertRefused(p);
        }
    }

    @Test
    void refusesAnExistingHostDirectory() throws Exception {
        Path host = Files.createDirectories(tmp.resolve("host/data"));
        Files.writeString(host.resolve("file"), "x");
        assertRefused(host);
    }

    @Test
    void refusesAParentSymlinkThatPointsOutside() throws Exception {
        Path outside = Files.createDirectories(tmp.resolve("outside"));
        Path link = Files.createSymbolicLink(pods.resolve("uid"), outside);
        assertRefused(link.resolve("mount"));
        assertRefused(link.resolve("not/yet/there/mount"));
        assertThrows(InvalidRequestException.class, () -> paths.resolve("target_path", link.resolve("mount")));
        Path linkToEtc = Files.createSymbolicLink(plugins.resolve("etc"), Path.of("/etc"));
        assertRefused(linkToEtc.resolve("passwd"));
    }

    @Test
    void followsAParentSymlinkThatStaysInside() throws Exception {
        Path real = Files.createDirectories(pods.resolve("real"));
        Path link = Files.createSymbolicLink(pods.resolve("link"), real);
        assertEquals(real.resolve("mount"), paths.confine("target_path", link.resolve("mount")));
    }

    @Test
    void refusesTheDriversOwnDirectoriesAndWhatContainsThem() throws Exception {
        for (Path p : List.of(state, state.resolve("node"), emulated, emulated.resolve("region0.img"), socketDir,
                socketDir.resolve("csi.sock"), plugins.resolve("pmem-csi.dev"))) {
            assertRefused(p);
        }
        // Staging over a parent of the socket dir would hide the socket.
        Path nested = Files.createDirectories(pods.resolve("deep/driver"));
        NodePaths withNested = NodePaths.confinedTo(kubelet, List.of(nested));
        assertThrows(InvalidRequestException.class, () -> withNested.confine("target_path", pods.resolve("deep")));
        assertEquals(pods.resolve("deeper"), withNested.confine("target_path", pods.resolve("deeper")));
    }

    @Test
    void reservingAddsADirectory() throws Exception {
        Path nodeState = plugins.resolve("other-state");
        assertTrue(paths.allows(nodeState.resolve("x")));
        assertFalse(paths.reserving(nodeState).allows(nodeState.resolve("x")));
    }

    @Test
    void aSymlinkedKubeletDirIsResolvedOnce() throws Exception {
        Path link = Files.createSymbolicLink(tmp.resolve("kubelet-link"), kubelet);
        NodePaths viaLink = NodePaths.confinedTo(link, List.of());
        assertEquals(kubelet.toRealPath(), viaLink.kubeletDir());
        assertEquals(pods.resolve("x"), viaLink.confine("target_path", link.resolve("pods/x")));
        assertEquals(pods.resolve("y"), viaLink.confine("target_path", pods.resolve("y")));
    }

    @Test
    void aMissingKubeletDirIsAnError() {
        assertThrows(NoSuchFileException.class, () -> NodePaths.confinedTo(tmp.resolve("no-kubelet"), List.of()));
    }

    @Test
    void resolvesSymlinksInTheParent() throws Exception {
        Path realDir = Files.createDirectory(pods.resolve("real"));
        Path link = Files.createSymbolicLink(pods.resolve("link"), realDir);
        assertEquals(realDir.toRealPath().resolve("target"), paths.resolve("target_path", link.resolve("target")));
    }

    @Test
    void refusesATargetThatIsASymlink() throws Exception {
        Path elsewhere = Files.createDirectory(pods.resolve("etc"));
        Path target = Files.createSymbolicLink(pods.resolve("target"), elsewhere);
        assertThrows(InvalidRequestException.class, () -> paths.resolve("target_path", target));
        Path dangling = Files.createSymbolicLink(pods.resolve("dangling"), pods.resolve("nowhere"));
        assertThrows(InvalidRequestException.class, () -> paths.resolve("target_path", dangling));
    }

    @Test
    void missingParentIsReportedAndCanFallBackToAConfinedRecord() throws Exception {
        Path p = pods.resolve("gone/target");
        assertThrows(NoSuchFileException.class, () -> paths.resolve("target_path", p));
        assertEquals(pods.resolve("recorded"), paths.resolveOr("target_path", p, pods.resolve("recorded")));
        assertThrows(InvalidRequestException.class, () -> paths.resolveOr("target_path", p, Path.of("/etc/recorded")));
    }

    @Test
    void aPathThroughAFileIsLocatedWithoutFollowingIt() throws Exception {
        Path file = Files.writeString(pods.resolve("file"), "x");
        assertEquals(file.resolve("a/b"), paths.confine("target_path", file.resolve("a/b")));
    }
}
