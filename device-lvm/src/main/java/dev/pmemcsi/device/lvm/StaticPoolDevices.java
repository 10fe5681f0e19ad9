package dev.pmemcsi.device.lvm;

import dev.pmemcsi.device.DeviceException;
import dev.pmemcsi.device.PoolDevice;
import dev.pmemcsi.device.PoolDevices;
import dev.pmemcsi.pmemnative.BlockDevice;
import dev.pmemcsi.pmemnative.NativeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Block devices an administrator names ({@code --lvm-devices /dev/pmem0,/dev/pmem1}), pooled whole.
 * Nothing is created or changed here: each device is resolved to its kernel name, and its size,
 * region, NUMA node and technology are read from the kernel. A device of an NVDIMM region
 * ({@code /sys/class/block/pmem0} lies below {@code ndbusN/regionM}) keeps that region's name, so
 * its volume group is named as the one the driver would make on that region itself; any other
 * device (a loop device, a partition sharing its region with another named one) is its own region,
 * named after the device, on the bus {@code static}.
 */
public final class StaticPoolDevices implements PoolDevices {

    private static final Logger LOG = LoggerFactory.getLogger(StaticPoolDevices.class);
    private static final Pattern BUS = Pattern.compile("ndbus[0-9]+");
    private static final Pattern REGION = Pattern.compile("region[0-9]+");
    static final String STATIC_BUS = "static";

    private final List<String> paths;
    private final int pmemPercentage;
    private final Path sysfs;
    private final Path dev;
    private final SizeOf sizeOf;

    /** Reads a block device's size; BLKGETSIZE64 in production. */
    @FunctionalInterface
    interface SizeOf {
        long bytes(Path device) throws NativeException;
    }

    /**
     * @param paths          the devices, as named on the command line
     * @param pmemPercentage how much of each region to pool; named devices are pooled whole, so it
     *                       is only logged
     */
    public StaticPoolDevices(List<String> paths, int pmemPercentage) {
        this(paths, pmemPercentage, Path.of("/sys"), Path.of("/dev"), BlockDevice::sizeOf);
    }

    StaticPoolDevices(List<String> paths, int pmemPercentage, Path sysfs, Path dev, SizeOf sizeOf) {
        if (paths.isEmpty()) {
            throw new IllegalArgumentException("no device named");
        }
        for (String p : paths) {
            if (p.isBlank() || !p.startsWith("/")) {
                throw new IllegalArgumentException("\"" + p + "\" is not an absolute device path such as /dev/pmem0");
            }
        }
        this.paths = List.copyOf(paths);
        this.pmemPercentage = pmemPercentage;
        this.sysfs = sysfs;
        this.dev = dev;
        this.sizeOf = sizeOf;
    }

    @Override
    public String describe() {
        return String.join(",", paths);
    }

    @Override
    public Preparation prepare() throws DeviceException {
        if (pmemPercentage != 100) {
            LOG.info("--pmem-percentage {} does not apply to the devices --lvm-devices names: they are pooled whole",
                    pmemPercentage);
        }
        List<Found> found = new ArrayList<>();
        Set<Path> seen = new HashSet<>();
        for (String p : paths) {
            Found f = inspect(p);
            if (!seen.add(f.device())) {
                throw new DeviceException("--lvm-devices names " + f.device() + " twice (as " + p + ")");
            }
            found.add(f);
        }
        Map<String, Integer> perRegion = new HashMap<>();
        for (Found f : found) {
            f.region().ifPresent(r -> perRegion.merge(r.bus() + "/" + r.region(), 1, Integer::sum));
        }
        List<PoolDevice> devices = new ArrayList<>();
        for (Found f : found) {
            String name = f.device().getFileName().toString();
            boolean ownRegion = f.region().isPresent() && perRegion.get(f.region().get().bus() + "/" + f.region().get().region()) == 1;
            String region = ownRegion ? f.region().get().region() : name;
            String bus = ownRegion ? f.region().get().bus() : STATIC_BUS;
            devices.add(new PoolDevice(region, bus, f.numaNode(), f.device().toString(), f.sizeBytes(), f.technology()));
        }
        return new Preparation(devices, List.of());
    }

    private record NdRegion(String bus, String region, Path dir) {}

    private record Found(Path device, long sizeBytes, Optional<NdRegion> region, int numaNode, String technology) {}

    private Found inspect(String named) throws DeviceException {
        Path device;
        try {
            device = Path.of(named).toRealPath();
        } catch (NoSuchFileException e) {
            throw new DeviceException("--lvm-devices names " + named + ", which does not exist");
        } catch (IOException e) {
            throw new DeviceException("--lvm-devices names " + named + ", which cannot be resolved: " + e.getMessage(), e);
        }
        String name = device.getFileName() == null ? "" : device.getFileName().toString();
        Path sysDir = sysfs.resolve("class/block").resolve(name);
        if (!device.startsWith(dev) || name.isEmpty() || !Files.isDirectory(sysDir)) {
            throw new DeviceException("--lvm-devices names " + named + " (" + device + "), which is not a block device");
        }
        long size;
        try {
            size = sizeOf.bytes(device);
        } catch (NativeException e) {
            throw new DeviceException("cannot read the size of " + device + " that --lvm-devices names: " + e.getMessage(), e);
        }
        if (size <= 0) {
            throw new DeviceException("--lvm-devices names " + device + ", which has no size");
        }
        Optional<NdRegion> region = ndRegion(sysDir);
        int numa = region.map(r -> readInt(r.dir().resolve("numa_node"))).orElse(-1);
        if (numa < 0) {
            numa = readInt(sysDir.resolve("device/numa_node"));
        }
        return new Found(device, size, region, numa, technology(name, region));
    }

    /** The NVDIMM bus and region above the device in the sysfs tree, if it lies in one. */
    private static Optional<NdRegion> ndRegion(Path sysDir) {
        Path real;
        try {
            real = sysDir.toRealPath();
        } catch (IOException e) {
            return Optional.empty();
        }
        String bus = null;
        Path dir = real.getRoot();
        for (Path part : real) {
            dir = dir.resolve(part);
            String s = part.toString();
            if (BUS.matcher(s).matches()) {
                bus = s;
            } else if (bus != null && REGION.matcher(s).matches()) {
                return Optional.of(new NdRegion(bus, s, dir));
            }
        }
        return Optional.empty();
    }

    private String technology(String name, Optional<NdRegion> region) {
        if (region.isPresent()) {
            Path provider = region.get().dir().getParent().resolve("provider");
            String p = readString(provider).toLowerCase(Locale.ROOT);
            if (p.contains("nfit")) {
                return "nvdimm";
            }
            if (p.contains("e820")) {
                return "e820";
            }
            if (p.contains("cxl")) {
                return "cxl";
            }
        }
        return name.startsWith("loop") ? "loop" : "static";
    }

    private static int readInt(Path p) {
        try {
            return Integer.parseInt(readString(p));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static String readString(Path p) {
        try {
            return Files.readString(p).strip();
        } catch (IOException e) {
            return "";
        }
    }
}
