# shellcheck shell=bash
# Every knob of the harness, with its default. Documented in docs/testing.md. The scripts that
# source this file read the settings, which shellcheck cannot see from here.
# shellcheck disable=SC2034

E2E_QEMU_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
E2E_REPO=$(cd "$E2E_QEMU_DIR/../../.." && pwd)

: "${E2E_OUT:=$E2E_REPO/tests/e2e/target/qemu-out}"        # results: console, logs, JUnit XML
: "${E2E_CACHE_DIR:=/var/cache/pmem-csi-e2e}"          # guest kernel and initramfs, kept across runs
: "${E2E_SHAPE:=labelled}"                             # the guest's PMEM: labelled, labelless, e820 or cxl (docs/testing.md)
: "${E2E_NVDIMMS:=2}"                                   # emulated NVDIMMs, one region each (labelled, labelless)
: "${E2E_NVDIMM_SIZE:=4G}"                              # PMEM per NVDIMM (a multiple of 16M)
: "${E2E_LABEL_SIZE:=128K}"                             # label area; QEMU's minimum (labelled only)
# e820 shape: the memmap=SIZE!START ranges, one region each. The gap between them keeps the kernel
# from merging them into one region; the RAM above 4G must reach past the last one (vm.sh sizes -m).
: "${E2E_E820_MEMMAP:=1G!4G 1G!6G}"
# cxl shape: one CXL type-3 device behind a CXL host bridge; setup assembles one PMEM region of
# E2E_CXL_REGION_SIZE on it (at most the device's size; the fixed memory window is 4G).
: "${E2E_CXL_SIZE:=2G}"                                 # the device's capacity (a multiple of 256M)
: "${E2E_CXL_REGION_SIZE:=$E2E_CXL_SIZE}"               # the region setup assembles (a multiple of 256M)
: "${E2E_CXL_LSA_SIZE:=128K}"                           # the device's label storage area
: "${E2E_PORT:=47100}"                                  # host port on 127.0.0.1, forwarded to the guest
: "${E2E_GUEST_PORT:=$E2E_PORT}"                        # where the guest's server listens
: "${E2E_SMP:=2}"
: "${E2E_MEM:=2G}"
: "${E2E_TB_SIZE:=256}"                                 # MiB of TCG translation cache (drives QEMU's RSS)
: "${E2E_ACCEL:=auto}"                                  # kvm, tcg, or auto: KVM when /dev/kvm opens
: "${E2E_HEARTBEAT:=30}"                                # seconds of guest silence between "still running" lines
: "${E2E_TIMEOUT:=1800}"                                # seconds for the whole guest run before QEMU is killed
: "${E2E_BOOT_TIMEOUT:=300}"                            # seconds until the guest's main script runs
: "${E2E_HOST_STEP_TIMEOUT:=600}"                       # seconds per host step
: "${E2E_DRIVER_START_TIMEOUT:=240}"                    # seconds for the driver to listen in the guest
: "${E2E_BUILD:=1}"                                     # 0: use what Maven already built
: "${E2E_SELF_TEST:=1}"                                 # 1: also run the self-test; only: nothing else
: "${E2E_KEEP_IMAGES:=0}"                               # 1: keep the NVDIMM backing files
: "${E2E_IMAGES_FROM:=}"                                # a kept image directory to boot with instead of new images (a reboot)
: "${E2E_REBOOT_PHASE:=}"                               # write or verify: LvmRebootGuestTest's boot (reboot-lvm.sh)
: "${E2E_REBOOT_MANIFEST:=}"                            # the file where its first boot notes volumes and checksums
: "${E2E_BENCHMARKS:=0}"                                # 1: also build and run the guest benchmarks
: "${E2E_STEPS:=}"                                      # only these steps (and setup); empty: the whole plan
# The cxl shape has one CXL region: only the tests that prove direct mode there (the others expect
# the labelled shape's two NVDIMM regions).
if [[ $E2E_SHAPE == cxl ]]; then
    : "${E2E_GUEST_TESTS:=.*\.(CxlLifecycle|NodeDax)GuestTest\$}"
fi
: "${E2E_GUEST_TESTS:=.*GuestTest\$}"                  # class-name regex of the guest-tests step
: "${JAVA_HOME:=/usr/lib/jvm/java-17-openjdk-amd64}"
: "${E2E_GUEST_JVM_OPTS:=-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto}"
: "${E2E_DRIVER_JAR:=$E2E_REPO/driver-app/target/pmem-csi-driver.jar}"
: "${E2E_DRIVER_LAUNCHER:=$E2E_REPO/bin/pmem-csi-driver}"
: "${E2E_DEVICE_MANAGER:=ndctl}"
: "${E2E_GUEST_KUBELET_DIR:=/tmp/e2e-kubelet}"          # the guest driver's --kubelet-dir (DriverInGuestIT's paths)
# The cxl shape's driver also serves its metrics in the guest, where cxl-driver-check reads them.
: "${E2E_GUEST_METRICS_PORT:=$(( E2E_GUEST_PORT + 1 ))}"
if [[ $E2E_SHAPE == cxl ]]; then
    : "${E2E_DRIVER_ARGS:=--endpoint=tcp://0.0.0.0:$E2E_GUEST_PORT --device-manager=$E2E_DEVICE_MANAGER --node-id=e2e-guest --kubelet-dir=$E2E_GUEST_KUBELET_DIR --metrics-address=127.0.0.1:$E2E_GUEST_METRICS_PORT}"
fi
: "${E2E_DRIVER_ARGS:=--endpoint=tcp://0.0.0.0:$E2E_GUEST_PORT --device-manager=$E2E_DEVICE_MANAGER --node-id=e2e-guest --kubelet-dir=$E2E_GUEST_KUBELET_DIR}"

E2E_TOOLS=$E2E_REPO/tests/e2e/target/qemu-tools
E2E_CONSOLE_LAUNCHER=$E2E_TOOLS/junit-platform-console-standalone.jar
E2E_TEST_CLASSES=$E2E_REPO/tests/e2e/target/test-classes
# Guest test classes live next to the code they prove: the bindings, the ndctl backend and the lvm
# backend test themselves on real NVDIMMs (and device-mapper); e2e holds the cross-module ones
# (node + DAX, the CLI).
E2E_GUEST_TEST_ROOTS=$E2E_TEST_CLASSES:$E2E_REPO/ndctl-bindings/target/test-classes:$E2E_REPO/device-ndctl/target/test-classes:$E2E_REPO/device-lvm/target/test-classes
# The whole-driver tests of driver-tests that also run on the ndctl backend in the guest.
E2E_RELIABILITY_CLASSES=$E2E_REPO/tests/driver/target/test-classes
E2E_RELIABILITY_CLASSPATH_FILE=$E2E_REPO/tests/driver/target/guest-test-classpath.txt
# The benchmarks that need real NVDIMMs (docs/performance.md); the step runs them only with E2E_BENCHMARKS=1.
E2E_BENCHMARKS_JAR=$E2E_REPO/tests/benchmarks/target/benchmarks.jar
E2E_BENCHMARKS_CLASSPATH="$E2E_BENCHMARKS_JAR:$E2E_REPO/tests/benchmarks/target/lib/*"
: "${E2E_BENCHMARK_CLASSES:=dev.pmemcsi.bench.guest.NdctlProvisioningBenchmark dev.pmemcsi.bench.guest.LvmProvisioningBenchmark dev.pmemcsi.bench.guest.NodeStageGuestBenchmark}"     # the guest-benchmarks step's programs, space-separated
E2E_SELF_TEST_CLASS=dev.pmemcsi.e2e.guest.HarnessMustFailGuestTest
E2E_SELF_TEST_CLASS_REGEX='.*\.HarnessMustFailGuestTest$'
E2E_SHARE=$E2E_OUT/guest
E2E_HOST_LOGS=$E2E_OUT/host
E2E_IMAGES=$E2E_OUT/nvdimm

case $E2E_SHAPE in
    labelled | labelless) E2E_REGIONS=$E2E_NVDIMMS ;;
    e820) read -r -a E2E_E820_RANGES <<< "$E2E_E820_MEMMAP"; E2E_REGIONS=${#E2E_E820_RANGES[@]} ;;
    cxl) E2E_REGIONS=1 ;;
    *) echo "E2E_SHAPE must be labelled, labelless, e820 or cxl, not '$E2E_SHAPE'" >&2; exit 2 ;;
esac

# The guest reads its settings from the share; values are quoted for bash.
write_guest_config() {
    local v
    {
        for v in E2E_QEMU_DIR E2E_REPO E2E_OUT E2E_SHARE E2E_SHAPE E2E_NVDIMMS E2E_REGIONS E2E_CXL_REGION_SIZE \
                 E2E_PORT E2E_GUEST_PORT \
                 E2E_HOST_STEP_TIMEOUT E2E_DRIVER_START_TIMEOUT JAVA_HOME E2E_GUEST_JVM_OPTS \
                 E2E_DRIVER_JAR E2E_DRIVER_LAUNCHER E2E_DRIVER_ARGS E2E_GUEST_METRICS_PORT E2E_GUEST_KUBELET_DIR E2E_CONSOLE_LAUNCHER \
                 E2E_TEST_CLASSES E2E_GUEST_TEST_ROOTS E2E_GUEST_TESTS E2E_TEST_CLASSPATH E2E_SELF_TEST_CLASS E2E_SELF_TEST_CLASS_REGEX \
                 E2E_RELIABILITY_CLASSES E2E_RELIABILITY_CLASSPATH E2E_BENCHMARKS_CLASSPATH E2E_BENCHMARK_CLASSES \
                 E2E_IMAGES_FROM E2E_REBOOT_PHASE E2E_REBOOT_MANIFEST; do
            printf 'export %s=%q\n' "$v" "${!v}"
        done
    } > "$E2E_SHARE/config.env"
}

# run.sh exports these for host steps.
export_host_env() {
    export E2E_QEMU_DIR E2E_REPO E2E_OUT E2E_SHARE E2E_PORT E2E_GUEST_KUBELET_DIR JAVA_HOME
}
