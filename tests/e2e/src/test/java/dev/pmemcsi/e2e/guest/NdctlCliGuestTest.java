package dev.pmemcsi.e2e.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.condition.DisabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The guest's kernel, ndctl and file systems do what the driver will rely on: an fsdax namespace in
 * every emulated region takes ext4 and xfs, both mount with DAX, a written file really is DAX, and
 * destroying the namespace leaves the region empty. Runs only inside the QEMU guest.
 */
// Divides regions into namespaces: only the labelled VM shape can (docs/testing.md, E2E_SHAPE).
@DisabledIfSystemProperty(named = "pmemcsi.e2e.shape", matches = "labelless|e820")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NdctlCliGuestTest {

    /** STATX_ATTR_DAX from linux/stat.h: the file's data is accessed through DAX. */
    private static final long STATX_ATTR_DAX = 0x200000L;
    private static final Pattern STATX_FIELD = Pattern.compile("^stat\\.(attributes(?:_mask)?) = (0x[0-9a-fA-F]+)$",
            Pattern.MULTILINE);

    static List<String> regions() {
        return Ndctl.regions();
    }

    @Test
    @Order(1)
    void everyEmulatedNvdimmShowsUpAsAnEmptyRegion() {
        String expected = System.getProperty("pmemcsi.e2e.nvdimms");
        if (expected == null) {
            fail("pmemcsi.e2e.nvdimms is not set; the harness passes the number of emulated NVDIMMs");
        }
        assertEquals(Integer.parseInt(expected), regions().size(), "regions: " + regions());
        assertEquals(List.of(), Ndctl.allNamespaces(), "namespaces before any test created one");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("regions")
    @Order(2)
    void fsdaxNamespaceTakesExt4AndXfsWithDax(String region, @TempDir Path mountPoint) throws IOException {
        Ndctl.Namespace ns = Ndctl.createFsdax(region, "1G", "e2e-cli-" + region);
        try {
            Path dev = Path.of("/dev", ns.blockdev());
            assertTrue(Files.exists(dev), dev + " after create-namespace");

            ExternalCommand.check("mkfs.ext4", "-q", "-F", "-b", "4096", dev.toString());
            assertDaxMount(dev, mountPoint, "ext4");

            ExternalCommand.check("mkfs.xfs", "-q", "-f", "-m", "reflink=0", dev.toString());
            assertDaxMount(dev, mountPoint, "xfs");
        } finally {
            unmountIfMounted(mountPoint);
            Ndctl.destroy(ns.dev());
        }
        assertEquals(List.of(), Ndctl.namespaces(region), "namespaces left in " + region);
    }

    @Test
    @Order(3)
    void noNamespaceIsLeftBehind() {
        assertEquals(List.of(), Ndctl.allNamespaces());
    }

    private static void assertDaxMount(Path dev, Path mountPoint, String fsType) throws IOException {
        ExternalCommand.check("mount", "-t", fsType, "-o", "dax", dev.toString(), mountPoint.toString());
        try {
            String[] entry = mountEntry(mountPoint);
            assertEquals(fsType, entry[2], "file system type in /proc/mounts");
            List<String> options = Arrays.asList(entry[3].split(","));
            assertTrue(options.contains("dax") || options.contains("dax=always"),
                    fsType + " mount options without dax: " + entry[3]);

            Path file = mountPoint.resolve("data");
            writeSynced(file, 4 << 20);
            String statx = ExternalCommand.check("xfs_io", "-c", "statx -r", file.toString());
            assertNotEquals(0L, statxField(statx, "attributes_mask") & STATX_ATTR_DAX,
                    "the kernel does not report STATX_ATTR_DAX at all:\n" + statx);
            assertNotEquals(0L, statxField(statx, "attributes") & STATX_ATTR_DAX,
                    "file on " + fsType + " is not DAX:\n" + statx);
        } finally {
            ExternalCommand.check("umount", mountPoint.toString());
        }
        assertFalse(isMounted(mountPoint), mountPoint + " still mounted");
    }

    private static void writeSynced(Path file, int bytes) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(bytes);
        for (int i = 0; i < bytes; i += 8) {
            buf.putLong(i, 0x706d656d2d637369L ^ i);
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            ch.force(true);
        }
    }

    private static long statxField(String xfsIoOutput, String field) {
        Matcher m = STATX_FIELD.matcher(xfsIoOutput);
        while (m.find()) {
            if (m.group(1).equals(field)) {
                return Long.decode(m.group(2));
            }
        }
        throw new AssertionError("xfs_io printed no stat." + field + ":\n" + xfsIoOutput);
    }

    private static String[] mountEntry(Path mountPoint) throws IOException {
        String target = mountPoint.toString();
        return Files.readAllLines(Path.of("/proc/mounts")).stream()
                .map(line -> line.split(" "))
                .filter(f -> f.length >= 4 && f[1].equals(target))
                .reduce((first, second) -> second)
                .orElseThrow(() -> new AssertionError(target + " is not in /proc/mounts"));
    }

    private static boolean isMounted(Path mountPoint) throws IOException {
        String target = mountPoint.toString();
        return Files.readAllLines(Path.of("/proc/mounts")).stream()
                .anyMatch(line -> line.split(" ")[1].equals(target));
    }

    private static void unmountIfMounted(Path mountPoint) throws IOException {
        if (isMounted(mountPoint)) {
            ExternalCommand.run("umount", mountPoint.toString());
        }
    }
}
