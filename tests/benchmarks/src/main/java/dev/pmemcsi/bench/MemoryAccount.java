package dev.pmemcsi.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where a driver's memory goes, in two views that complement each other: the JVM's native memory
 * tracking (what the JVM committed, by category; needs {@code -XX:NativeMemoryTracking=summary}
 * on the driver) and the kernel's resident pages by mapping (/proc/PID/smaps: what of it is in
 * RAM, plus what NMT does not see: libjvm and the other libraries, the class-data archives'
 * file pages).
 */
final class MemoryAccount {

    private static final Pattern NMT_CATEGORY =
            Pattern.compile("^-\\s+(.+?) \\(reserved=(\\d+)KB, committed=(\\d+)KB\\)");
    private static final Pattern NMT_TOTAL = Pattern.compile("^Total: reserved=(\\d+)KB, committed=(\\d+)KB");
    private static final Pattern MAPPING = Pattern.compile("[0-9a-f]+-[0-9a-f]+ ");
    private static final Pattern NMT_THREADS = Pattern.compile("\\(thread #(\\d+)\\)");

    private MemoryAccount() {}

    /** {@code jcmd PID VM.native_memory summary}, condensed to one line: committed MiB by category. */
    static String nmt(long pid) {
        Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
        String text;
        try {
            text = Commands.run(List.of(jcmd.toString(), Long.toString(pid), "VM.native_memory", "summary"));
        } catch (IOException e) {
            return "NMT unavailable: " + e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "NMT interrupted";
        }
        StringBuilder b = new StringBuilder();
        String threads = "";
        for (String raw : text.split("\n")) {
            String line = raw.strip();
            Matcher t = NMT_TOTAL.matcher(line);
            if (t.find()) {
                b.insert(0, String.format(Locale.ROOT, "committed %.1f MiB:", Long.parseLong(t.group(2)) / 1024.0));
                continue;
            }
            Matcher th = NMT_THREADS.matcher(line);
            if (th.find()) {
                threads = th.group(1);
            }
            Matcher m = NMT_CATEGORY.matcher(line);
            if (m.find()) {
                long committed = Long.parseLong(m.group(3));
                if (committed >= 100) {
                    String name = m.group(1).strip();
                    b.append(String.format(Locale.ROOT, " %s %.1f", name, committed / 1024.0));
                }
            }
        }
        return b + (threads.isEmpty() ? "" : " (" + threads + " threads)");
    }

    /** Resident KiB by mapping, grouped: the archives, libjvm, other files, malloc's heap, other anonymous. */
    static String smaps(long pid) {
        Map<String, long[]> groups = new LinkedHashMap<>();
        for (String g : List.of("app CDS archive", "JDK CDS archive", "libjvm.so", "other files", "[heap] (malloc)",
                "anonymous (Java heap, metaspace, code, stacks, large mallocs)")) {
            groups.put(g, new long[2]);
        }
        List<String> lines;
        try {
            lines = Files.readAllLines(Path.of("/proc", Long.toString(pid), "smaps"));
        } catch (IOException e) {
            return "smaps unavailable: " + e.getMessage();
        }
        long[] current = null;
        for (String line : lines) {
            if (MAPPING.matcher(line).lookingAt()) {
                current = groups.get(group(line));
            } else if (current != null && line.startsWith("Rss:")) {
                current[0] += Long.parseLong(line.split("\\s+")[1]);
            } else if (current != null && line.startsWith("Anonymous:")) {
                current[1] += Long.parseLong(line.split("\\s+")[1]);
            }
        }
        List<String> parts = new ArrayList<>();
        for (Map.Entry<String, long[]> e : groups.entrySet()) {
            parts.add(String.format(Locale.ROOT, "%s %.1f (anon %.1f)", e.getKey(), e.getValue()[0] / 1024.0,
                    e.getValue()[1] / 1024.0));
        }
        return "resident MiB by mapping: " + String.join(", ", parts);
    }

    private static String group(String mapLine) {
        String[] f = mapLine.trim().split("\\s+", 6);
        String name = f.length == 6 ? f[5].strip() : "";
        if (name.endsWith("/lib/server/classes.jsa") || name.endsWith("/lib/server/classes_nocoops.jsa")) {
            return "JDK CDS archive";
        } else if (name.endsWith(".jsa")) {
            return "app CDS archive";
        } else if (name.endsWith("/libjvm.so")) {
            return "libjvm.so";
        } else if (name.equals("[heap]")) {
            return "[heap] (malloc)";
        } else if (name.startsWith("/")) {
            return "other files";
        }
        return "anonymous (Java heap, metaspace, code, stacks, large mallocs)";
    }
}
