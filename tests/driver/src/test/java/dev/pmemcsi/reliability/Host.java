package dev.pmemcsi.reliability;

import dev.pmemcsi.pmemnative.NativeException;
import dev.pmemcsi.pmemnative.loop.LoopDevice;
import dev.pmemcsi.pmemnative.loop.LoopDevices;
import dev.pmemcsi.pmemnative.mount.MountInfo;
import dev.pmemcsi.pmemnative.mount.MountTable;
import dev.pmemcsi.pmemnative.mount.Mounter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;

/** What the host's kernel says about a test's directory tree: its mounts and its loop devices. */
final class Host {

    private static final LoopDevices LOOPS = new LoopDevices();

    private Host() {}

    static List<String> mountsUnder(Path dir) {
        try {
            return MountTable.read().under(dir).stream().map(MountInfo::mountPoint).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Mount points of every /dev/pmem and /dev/dax device, wherever they are. */
    static List<String> pmemMounts() {
        try {
            return MountTable.read().mounts().stream()
                    .filter(m -> m.source().startsWith("/dev/pmem") || m.source().startsWith("/dev/dax")
                            || m.source().startsWith("/dev/mapper/pmemcsi.") || m.source().startsWith("/dev/dm-"))
                    .map(MountInfo::mountPoint).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static boolean isMountPoint(Path p) {
        try {
            return MountTable.read().isMountPoint(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Loop devices whose backing file lies under {@code dir}. */
    static List<LoopDevice> loopsUnder(Path dir) {
        String prefix = dir.toString() + "/";
        try {
            return LOOPS.list().stream().filter(l -> l.backingFile().startsWith(prefix)).toList();
        } catch (NativeException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Removes every mount and loop device a test left under {@code dir}, deepest mount first. */
    static void release(Path dir) throws IOException, NativeException {
        Mounter mounter = new Mounter();
        for (int round = 0; round < 8 && !mountsUnder(dir).isEmpty(); round++) {
            List<String> mounts = mountsUnder(dir).stream().sorted(Comparator.reverseOrder()).toList();
            for (String m : mounts) {
                try {
                    mounter.unmount(Path.of(m));
                } catch (NativeException e) {
                    // stacked or already gone: the next round sees the rest
                }
            }
        }
        for (LoopDevice l : loopsUnder(dir)) {
            LOOPS.detach(l, Duration.ofSeconds(10));
        }
    }
}
