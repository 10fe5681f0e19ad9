package dev.pmemcsi.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Memory figures of a process from /proc/PID/status, in KiB; -1 once the process is gone. */
record ProcStatus(long vmRssKib, long vmHwmKib, long rssAnonKib, long rssFileKib, long rssShmemKib, int threads) {

    static ProcStatus of(long pid) {
        long rss = -1;
        long hwm = -1;
        long anon = -1;
        long file = -1;
        long shmem = -1;
        int threads = -1;
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (line.startsWith("VmRSS:")) {
                    rss = kib(line);
                } else if (line.startsWith("VmHWM:")) {
                    hwm = kib(line);
                } else if (line.startsWith("RssAnon:")) {
                    anon = kib(line);
                } else if (line.startsWith("RssFile:")) {
                    file = kib(line);
                } else if (line.startsWith("RssShmem:")) {
                    shmem = kib(line);
                } else if (line.startsWith("Threads:")) {
                    threads = (int) kib(line);
                }
            }
        } catch (IOException e) {
            // the process exited: every figure stays -1
        }
        return new ProcStatus(rss, hwm, anon, file, shmem, threads);
    }

    private static long kib(String line) {
        String[] f = line.split("\\s+");
        return Long.parseLong(f[1]);
    }

    static double mib(long kib) {
        return kib / 1024.0;
    }

    @Override
    public String toString() {
        return String.format(java.util.Locale.ROOT, "VmRSS %.1f MiB (anon %.1f, file %.1f, shmem %.1f), VmHWM %.1f MiB, %d threads",
                mib(vmRssKib), mib(rssAnonKib), mib(rssFileKib), mib(rssShmemKib), mib(vmHwmKib), threads);
    }
}
