package dev.pmemcsi.device.lvm;

import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.OperationListener;
import dev.pmemcsi.device.PoolDevice;
import dev.pmemcsi.device.PoolDevices;
import dev.pmemcsi.device.VolumeEraser;
import dev.pmemcsi.device.VolumeInUseException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** An LVM-mode device manager over {@link FakeLvm}, a sysfs in a temporary directory and a recording eraser. */
final class LvmFixture {

    static final long MIB = 1024 * 1024;
    static final long GIB = 1024 * MIB;
    static final String DRIVER = "pmem-csi.dev";

    final FakeLvm lvm = new FakeLvm();
    final Path root;
    final Path sysfs;
    final List<PoolDevice> devices = new ArrayList<>();
    final List<PoolDevices.SkippedRegion> skipped = new ArrayList<>();
    /** Device paths the busy probe reports mounted or open. */
    final Set<String> busy = new HashSet<>();
    /** "erase ID PATH" and "wipe ID PATH", in order. */
    final List<String> erased = new ArrayList<>();
    /** Device paths whose erase fails as in use. */
    final Set<String> eraseRefused = new HashSet<>();

    LvmFixture(Path root) throws IOException {
        this.root = root;
        this.sysfs = root.resolve("sys");
        Files.createDirectories(sysfs.resolve("class/misc/device-mapper"));
    }

    /** A pool device of a region on ndbus0, DAX-capable, that lvm sees. */
    LvmFixture pmem(int n, long size) throws IOException {
        String dev = "/dev/pmem" + n;
        devices.add(new PoolDevice("region" + n, "ndbus0", n, dev, size, "nvdimm"));
        lvm.device(dev, size);
        Path block = sysfs.resolve("class/block/pmem" + n);
        Files.createDirectories(block.resolve("queue"));
        Files.writeString(block.resolve("queue/dax"), "1\n");
        return this;
    }

    PoolDevices source() {
        return new PoolDevices() {
            @Override
            public String describe() {
                return "test devices";
            }

            @Override
            public Preparation prepare() {
                return new Preparation(devices, skipped);
            }
        };
    }

    LvmConfig config() {
        return new LvmConfig(root.resolve("lvm/lock"), root.resolve("lvm/backup"), root.resolve("lvm/pending"),
                LvmConfig.DEFAULT_TIMEOUT, true);
    }

    LvmDeviceManager manager() {
        return new LvmDeviceManager(DRIVER, source(), config(), lvm, eraser(), OperationListener.NONE, sysfs,
                path -> busy.contains(path.toString()));
    }

    LvmDeviceManager started() throws DeviceException {
        LvmDeviceManager m = manager();
        m.start();
        return m;
    }

    VolumeEraser eraser() {
        return new VolumeEraser() {
            @Override
            public void erase(String volumeId, Path device) throws DeviceException {
                if (eraseRefused.contains(device.toString())) {
                    throw new VolumeInUseException("volume " + volumeId + " cannot be erased: busy");
                }
                erased.add("erase " + volumeId + " " + device);
            }

            @Override
            public void wipeSignatures(String volumeId, Path device) {
                erased.add("wipe " + volumeId + " " + device);
            }
        };
    }
}
