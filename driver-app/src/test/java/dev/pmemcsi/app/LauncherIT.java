package dev.pmemcsi.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * bin/build-cds and bin/pmem-csi-driver on a copy of the packaged driver: the archive is made
 * without touching the JDK, and a jar newer than its archive starts without the JVM's warning.
 */
class LauncherIT {

    private static final Path BIN = Path.of("..", "bin").toAbsolutePath().normalize();

    private record Run(int code, String output) {}

    private static Run run(Path jar, String... command) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().put("PMEM_CSI_JAR", jar.toString());
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        Process p = pb.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(180, TimeUnit.SECONDS), out);
        return new Run(p.exitValue(), out);
    }

    @Test
    void anArchiveOlderThanTheJarIsNotUsedAndTheJdkIsNotChanged() throws Exception {
        Path work = Files.createTempDirectory("pmem-csi-launcher-it");
        Path baseArchive = Path.of(System.getProperty("java.home"), "lib", "server", "classes.jsa");
        FileTime baseBefore = Files.exists(baseArchive) ? Files.getLastModifiedTime(baseArchive) : null;
        try {
            Path target = Path.of("target").toAbsolutePath();
            Path jar = work.resolve("pmem-csi-driver.jar");
            Files.copy(target.resolve("pmem-csi-driver.jar"), jar);
            Files.createDirectories(work.resolve("lib"));
            try (Stream<Path> libs = Files.list(target.resolve("lib"))) {
                for (Path lib : libs.toList()) {
                    Files.copy(lib, work.resolve("lib").resolve(lib.getFileName()), StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
            Run built = run(jar, BIN.resolve("build-cds").toString());
            assertEquals(0, built.code(), built.output());
            Path jsa = work.resolve("pmem-csi-driver.jsa");
            if (baseBefore != null) {
                assertTrue(Files.exists(jsa), built.output());
            }
            assertEquals(baseBefore, Files.exists(baseArchive) ? Files.getLastModifiedTime(baseArchive) : null,
                    "build-cds must not rewrite the JDK's own archive");

            Run fresh = run(jar, BIN.resolve("pmem-csi-driver").toString(), "--version");
            assertEquals(0, fresh.code(), fresh.output());
            assertEquals(List.of("pmem-csi-driver " + BuildInfo.version()), fresh.output().lines().toList());

            // A rebuild: the jar is newer than the archive made from its predecessor.
            Files.setLastModifiedTime(jar, FileTime.fromMillis(System.currentTimeMillis() + 5_000));
            Run rebuilt = run(jar, BIN.resolve("pmem-csi-driver").toString(), "--version");
            assertEquals(0, rebuilt.code(), rebuilt.output());
            assertEquals(List.of("pmem-csi-driver " + BuildInfo.version()), rebuilt.output().lines().toList(),
                    "no CDS warning after a rebuild");
        } finally {
            deleteTree(work);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }
}
