package dev.pmemcsi.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.pmemcsi.driver.InvalidRequestException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
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

    @Test
    void resolvesSymlinksInTheParent() throws Exception {
        Path realDir = Files.createDirectory(tmp.resolve("real"));
        Path link = Files.createSymbolicLink(tmp.resolve("link"), realDir);
        assertEquals(realDir.toRealPath().resolve("target"), NodePaths.resolve("target_path", link.resolve("target")));
    }

    @Test
    void refusesATargetThatIsASymlink() throws Exception {
        Path elsewhere = Files.createDirectory(tmp.resolve("etc"));
        Path target = Files.createSymbolicLink(tmp.resolve("target"), elsewhere);
        assertThrows(InvalidRequestException.class, () -> NodePaths.resolve("target_path", target));
        Path dangling = Files.createSymbolicLink(tmp.resolve("dangling"), tmp.resolve("nowhere"));
        assertThrows(InvalidRequestException.class, () -> NodePaths.resolve("target_path", dangling));
    }

    @Test
    void missingParentIsReportedAndCanFallBack() throws Exception {
        Path p = tmp.resolve("gone/target");
        assertThrows(NoSuchFileException.class, () -> NodePaths.resolve("target_path", p));
        assertEquals(Path.of("/recorded"), NodePaths.resolveOr("target_path", p, Path.of("/recorded")));
    }
}
