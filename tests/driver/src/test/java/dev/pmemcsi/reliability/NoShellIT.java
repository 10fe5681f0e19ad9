package dev.pmemcsi.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * No shell anywhere: the driver runs external tools with an argument vector, never through
 * {@code sh -c}, and never with {@code Runtime.exec}, which splits a command string itself.
 * Checked twice: in the sources of every module, and in the bytecode the driver actually ships
 * (its jar and the project jars in its {@code lib/}).
 */
class NoShellIT {

    private static final Path ROOT = Path.of(System.getProperty("pmemcsi.repo.root", "../..")).toAbsolutePath().normalize();
    private static final Set<String> SHELLS = Set.of("sh", "bash", "dash", "zsh", "ksh", "/bin/sh", "/bin/bash",
            "/usr/bin/sh", "/usr/bin/bash", "/usr/bin/env");

    @Test
    void noSourceUsesRuntimeExecOrAShell() throws IOException {
        List<String> findings = new ArrayList<>();
        Pattern exec = Pattern.compile("Runtime\\s*\\.\\s*getRuntime\\s*\\(\\s*\\)\\s*\\.\\s*exec\\s*\\(|\\.exec\\s*\\(\\s*\"");
        Pattern shellArgv = Pattern.compile("\"(/bin/|/usr/bin/)?(ba|da|z|k)?sh\"\\s*,\\s*\"-c\"");
        Pattern stringCommand = Pattern.compile("new\\s+ProcessBuilder\\s*\\(\\s*\"[^\"]*\\s[^\"]*\"\\s*\\)");
        int scanned = 0;
        try (Stream<Path> files = Files.walk(ROOT)) {
            for (Path f : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".java"))
                    .filter(p -> p.toString().contains("/src/main/"))::iterator) {
                scanned++;
                String text = Files.readString(f);
                for (Pattern p : List.of(exec, shellArgv, stringCommand)) {
                    if (p.matcher(text).find()) {
                        findings.add(ROOT.relativize(f) + ": " + p.pattern());
                    }
                }
            }
        }
        assertTrue(scanned > 50, "only " + scanned + " main sources found under " + ROOT);
        assertEquals(List.of(), findings);
    }

    @Test
    void noShippedClassCallsRuntimeExecOrNamesAShellNextToProcessBuilder() throws IOException {
        Path app = ROOT.resolve("driver-app/target");
        List<Path> jars = new ArrayList<>(List.of(app.resolve("pmem-csi-driver.jar")));
        try (Stream<Path> lib = Files.list(app.resolve("lib"))) {
            lib.filter(p -> p.getFileName().toString().matches("(csi-api|pmem-native|ndctl-bindings|device-.*|driver-.*)"
                    + "-.*\\.jar")).forEach(jars::add);
        }
        List<String> findings = new ArrayList<>();
        int classes = 0;
        int spawning = 0;
        for (Path jar : jars) {
            try (JarFile jf = new JarFile(jar.toFile())) {
                for (JarEntry e : java.util.Collections.list(jf.entries())) {
                    if (!e.getName().endsWith(".class")) {
                        continue;
                    }
                    classes++;
                    ConstantPool cp;
                    try (InputStream in = jf.getInputStream(e)) {
                        cp = ConstantPool.read(in);
                    }
                    if (cp.methodRefs.contains("java/lang/Runtime.exec")) {
                        findings.add(e.getName() + " calls Runtime.exec");
                    }
                    if (cp.classes.contains("java/lang/ProcessBuilder")) {
                        spawning++;
                        for (String s : cp.strings) {
                            if (SHELLS.contains(s) || s.equals("-c")) {
                                findings.add(e.getName() + " starts processes and holds the string \"" + s + "\"");
                            }
                        }
                    }
                }
            }
        }
        assertTrue(classes > 100 && spawning > 0, classes + " classes, " + spawning + " start processes");
        assertEquals(List.of(), findings);
    }

    /** The parts of a class file's constant pool that name classes, methods and string literals. */
    private static final class ConstantPool {
        final Set<String> classes = new HashSet<>();
        final Set<String> methodRefs = new HashSet<>();
        final Set<String> strings = new HashSet<>();

        static ConstantPool read(InputStream raw) throws IOException {
            DataInputStream in = new DataInputStream(raw);
            in.readInt();
            in.readUnsignedShort();
            in.readUnsignedShort();
            int count = in.readUnsignedShort();
            String[] utf8 = new String[count];
            int[] classIdx = new int[count];
            int[] stringIdx = new int[count];
            int[][] refs = new int[count][];
            int[][] nameAndType = new int[count][];
            for (int i = 1; i < count; i++) {
                int tag = in.readUnsignedByte();
                switch (tag) {
                    case 1 -> utf8[i] = in.readUTF();
                    case 7 -> classIdx[i] = in.readUnsignedShort();
                    case 8 -> stringIdx[i] = in.readUnsignedShort();
                    case 9, 10, 11 -> refs[i] = new int[] {in.readUnsignedShort(), in.readUnsignedShort()};
                    case 12 -> nameAndType[i] = new int[] {in.readUnsignedShort(), in.readUnsignedShort()};
                    case 3, 4 -> in.readInt();
                    case 5, 6 -> {
                        in.readLong();
                        i++;
                    }
                    case 15 -> {
                        in.readUnsignedByte();
                        in.readUnsignedShort();
                    }
                    case 16, 19, 20 -> in.readUnsignedShort();
                    case 17, 18 -> in.readInt();
                    default -> throw new IOException("unknown constant pool tag " + tag);
                }
            }
            ConstantPool cp = new ConstantPool();
            for (int i = 1; i < count; i++) {
                if (classIdx[i] != 0) {
                    cp.classes.add(utf8[classIdx[i]]);
                }
                if (stringIdx[i] != 0) {
                    cp.strings.add(utf8[stringIdx[i]]);
                }
            }
            for (int i = 1; i < count; i++) {
                if (refs[i] != null) {
                    String owner = utf8[classIdx[refs[i][0]]];
                    String name = utf8[nameAndType[refs[i][1]][0]];
                    cp.methodRefs.add(owner + "." + name);
                }
            }
            return cp;
        }
    }
}
