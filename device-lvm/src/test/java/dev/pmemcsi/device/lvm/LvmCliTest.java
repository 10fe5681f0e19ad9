package dev.pmemcsi.device.lvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pmemcsi.pmemnative.CommandFailedException;
import dev.pmemcsi.pmemnative.CommandRunner;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LvmCliTest {

    private static final LvmConfig CONFIG = new LvmConfig(Path.of("/var/lib/pmem-csi.dev/lvm/lock"), null, Path.of("/var/lib/pmem-csi.dev/lvm/pending"),
            Duration.ofSeconds(30), true);

    @Test
    void theFilterAcceptsExactlyThePoolDevices() {
        String c = LvmCli.configText(CONFIG, List.of("/dev/pmem0", "/dev/pmem1.2", "/dev/disk/by-id/x+y"));
        String filter = "[\"a|^/dev/pmem0$|\",\"a|^/dev/pmem1[.]2$|\",\"a|^/dev/disk/by-id/x[+]y$|\",\"r|.*|\"]";
        assertTrue(c.contains("devices{filter=" + filter + " global_filter=" + filter + " "), c);
        assertTrue(c.contains("hints=\"none\"") && c.contains("scan_lvs=0"), c);
        assertTrue(c.contains("global{locking_dir=\"/var/lib/pmem-csi.dev/lvm/lock\" use_lvmpolld=0}"), c);
        assertTrue(c.contains("backup{backup=0 archive=0}"), c);
        String withBackup = LvmCli.configText(LvmConfig.under(Path.of("/s/lvm")), List.of("/dev/pmem0"));
        assertTrue(withBackup.contains("backup{backup=1 backup_dir=\"/s/lvm/backup\" archive=0}"), withBackup);
        String metadataOnly = LvmCli.configText(new LvmConfig(Path.of("/l"), null, Path.of("/p"), Duration.ofSeconds(1), false),
                List.of("/dev/loop3"));
        assertTrue(metadataOnly.contains("use_lvmpolld=0 activation=0}"), metadataOnly);
    }

    @Test
    void pathsThatWouldNeedQuotingAreRefused() {
        for (String bad : List.of("/dev/a\"b", "/dev/a|b", "/dev/a b", "/dev/a\\b", "relative")) {
            assertThrows(IllegalArgumentException.class, () -> LvmCli.configText(CONFIG, List.of(bad)), bad);
        }
        assertThrows(IllegalArgumentException.class, () -> CONFIG.withLockDir(Path.of("/a\"b")));
        assertThrows(IllegalArgumentException.class, () -> CONFIG.withLockDir(Path.of("/run/lock/lvm dir")));
        assertThrows(IllegalArgumentException.class, () -> LvmCli.configText(CONFIG, List.of()));
    }

    @Test
    void aTimeoutIsAnLvmExceptionWithoutExitCode() {
        CommandRunner hanging = new CommandRunner() {
            @Override
            public Result runAllowingFailure(List<String> argv, Map<String, String> env, Duration timeout)
                    throws CommandFailedException {
                throw new CommandFailedException(argv, "timed out after " + timeout.toSeconds() + " s", null);
            }
        };
        LvmCli cli = new LvmCli(hanging, CONFIG, List.of("/dev/pmem0"));
        LvmException e = assertThrows(LvmException.class, () -> cli.remove("vg/lv"));
        assertEquals(-1, e.exitCode());
        assertEquals("lvm lvremove --yes vg/lv: lvm: timed out after 30 s", e.getMessage());
    }

    @Test
    void lvmsRefusalsAreRecognised() {
        assertTrue(LvmCli.noSpace(failure("  Volume group \"vg\" has insufficient free space (3 extents): 4 required.")));
        assertTrue(LvmCli.noSpace(failure("  Insufficient free space: 16 extents needed, but only 7 available")));
        assertTrue(LvmCli.inUse(failure("  Logical volume vg/lv contains a filesystem in use.")));
        assertTrue(LvmCli.inUse(failure("  Logical volume vg/lv in use.")));
        assertTrue(!LvmCli.inUse(failure("  Volume group \"vg\" not found")) && !LvmCli.noSpace(failure("")));
    }

    private static LvmException failure(String stderr) {
        return new LvmException(List.of("lvm", "x"), 5, stderr, "x", null);
    }
}
