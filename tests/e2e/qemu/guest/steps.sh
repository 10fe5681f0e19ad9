#!/bin/bash
# Guest steps: `steps.sh NAME` runs gstep_NAME inside the guest, as its own process so that `set -e`
# holds inside every step. The plan (lib/plan.sh on the host) decides which steps run and in which order.
# Environment: config.env from the share (written by the host), sourced by main.sh and exported here.
set -euo pipefail

# shellcheck source=/dev/null
source "$E2E_SHARE/config.env"

GUEST_IP=10.0.2.15
GUEST_GW=10.0.2.2

log() { echo "[guest $(date +%T)] $*"; }

# Which regions the kernel shows; an empty ndctl listing prints nothing at all.
region_count() { ndctl list --regions | jq -r 'if type == "array" then length else 1 end' 2>/dev/null || echo 0; }

gstep_setup() {
    hostname e2e-guest
    log "loading the NVDIMM, DAX, device-mapper, file system and network modules (VM shape: $E2E_SHAPE)"
    modprobe -a nfit libnvdimm nd_pmem nd_btt dax_pmem device_dax dm_mod ext4 xfs virtio_net
    # Without udev nothing loads the e820 bus driver for memmap= PMEM.
    [[ $E2E_SHAPE != e820 ]] || modprobe nd_e820
    [[ $E2E_SHAPE != cxl ]] || cxl_region_assemble
    local i
    for (( i = 0; i < 60; i++ )); do
        [[ $(region_count) == "$E2E_REGIONS" ]] && break
        sleep 0.5
    done
    [[ $(region_count) == "$E2E_REGIONS" ]] || { log "expected $E2E_REGIONS regions, found $(region_count)"; ndctl list -RDN; return 1; }

    if [[ -n $E2E_IMAGES_FROM ]]; then
        log "the images of an earlier boot: their labels and namespaces stay"
        ndctl list --regions --namespaces --human
    elif [[ $E2E_SHAPE == labelled || $E2E_SHAPE == cxl ]]; then
        log "initialising namespace labels on fresh $E2E_SHAPE images"
        ndctl disable-region all
        ndctl init-labels -f all
        ndctl enable-region all
        [[ $(region_count) == "$E2E_REGIONS" ]] || { log "regions lost after init-labels"; return 1; }
        ndctl list --regions --dimms --human
    else
        log "$E2E_SHAPE regions: no labels, one namespace each"
        ndctl list --buses --regions --namespaces --human
    fi

    log "network: $GUEST_IP via $GUEST_GW (QEMU user networking)"
    ip link set lo up
    ip link set eth0 up
    ip addr add "$GUEST_IP/24" dev eth0
    ip route add default via "$GUEST_GW"
}

# The cxl shape: the kernel's CXL drivers find the type-3 device (mem0) behind the host bridge, and an
# administrator's step, done here, assembles a PMEM region from the fixed memory window's root decoder
# (decoder0.0) onto it; the region then shows up as an nd region on a CXL nvdimm bus (docs/cxl.md).
# Without udev nothing loads the CXL drivers, cxl_port included.
cxl_region_assemble() {
    local i
    modprobe -a cxl_acpi cxl_pci cxl_port cxl_mem cxl_pmem libnvdimm nd_pmem dax_pmem
    for (( i = 0; i < 60; i++ )); do
        [[ $(cxl list -M | jq -r 'length' 2>/dev/null || echo 0) -ge 1 ]] && break
        sleep 0.5
    done
    cxl list -M -D -P -B || true
    log "assembling a PMEM region of $E2E_CXL_REGION_SIZE on mem0"
    cxl create-region -m -d decoder0.0 -w 1 mem0 -s "$E2E_CXL_REGION_SIZE" -t pmem
    cxl list -R
}

# All *GuestTest classes but the self-test's, in ONE JVM: the guest JVM starts about ten times slower.
gstep_guest_tests() {
    run_launcher guest-tests \
        --scan-class-path "$E2E_GUEST_TEST_ROOTS" \
        --include-classname "$E2E_GUEST_TESTS" \
        --exclude-classname "$E2E_SELF_TEST_CLASS_REGEX"
}

# The benchmarks that need real NVDIMMs and libndctl (docs/performance.md): each a plain program that
# prints BENCH lines into this step's log and asserts nothing. A JVM each; all run even if one fails.
gstep_guest_benchmarks() {
    local -a jvm classes
    local class rc=0
    read -r -a jvm <<< "$E2E_GUEST_JVM_OPTS"
    read -r -a classes <<< "$E2E_BENCHMARK_CLASSES"
    for class in "${classes[@]}"; do
        log "benchmark $class"
        "$JAVA_HOME/bin/java" "${jvm[@]}" -cp "$E2E_BENCHMARKS_CLASSPATH" "$class" || rc=$?
    done
    return "$rc"
}

# The whole-driver suites of driver-tests on the ndctl backend: CSI conformance, concurrency storms and
# hostile input against the real driver (a child process on real namespaces), in ONE JVM. TCG makes
# every namespace cost 0.2-0.5 s, so the storms and the generated inputs are smaller than on the host,
# but fixed (docs/reliability.md states both).
gstep_guest_reliability() {
    local logs="$E2E_SHARE/driver-tests-logs"
    mkdir -p "$logs"
    LAUNCHER_CLASSPATH="$E2E_RELIABILITY_CLASSES:$E2E_RELIABILITY_CLASSPATH" \
    LAUNCHER_JVM_PROPS="-Dpmemcsi.backend=ndctl -Dpmemcsi.driver.jar=$E2E_DRIVER_JAR -Dpmemcsi.repo.root=$E2E_REPO \
 -Dpmemcsi.driver.logs=$logs -Dpmemcsi.storm.create-calls=60 -Dpmemcsi.storm.mixed-threads=4 \
 -Dpmemcsi.storm.mixed-ops-per-thread=15" \
    run_launcher guest-reliability \
        --config jqwik.tries.default=10 \
        --config "jqwik.database=/tmp/e2e-jqwik-database" \
        --select-class dev.pmemcsi.reliability.ConformanceIT \
        --select-class dev.pmemcsi.reliability.StormIT \
        --select-class dev.pmemcsi.reliability.HostileInputIT
}

# The same suites on the lvm backend. The pool is one fsdax namespace of 2 GiB per region, made here and
# removed afterwards with its volume group. Not part of the default plan (it would cost minutes): only
# E2E_STEPS=guest-reliability-lvm runs it.
LVM_POOL_NAME=e2e-lvm-pool
gstep_guest_reliability_lvm() {
    local logs="$E2E_SHARE/driver-tests-lvm-logs" region blockdev rc=0
    local -a devices=()
    mkdir -p "$logs"
    for region in $(ndctl list --regions | jq -r 'if type == "array" then .[] else . end | .dev'); do
        blockdev=$(ndctl create-namespace --region="$region" --mode=fsdax --size=2G --name="$LVM_POOL_NAME" | jq -r .blockdev)
        # Filesystems of earlier steps may show through, and pvcreate refuses a device with a signature.
        dd if=/dev/zero of="/dev/$blockdev" bs=1M count=1 oflag=direct status=none
        devices+=("/dev/$blockdev")
    done
    log "LVM pool: ${devices[*]}"
    LAUNCHER_CLASSPATH="$E2E_RELIABILITY_CLASSES:$E2E_RELIABILITY_CLASSPATH" \
    LAUNCHER_JVM_PROPS="-Dpmemcsi.backend=lvm -Dpmemcsi.lvm.devices=$(IFS=,; echo "${devices[*]}") \
 -Dpmemcsi.driver.jar=$E2E_DRIVER_JAR -Dpmemcsi.repo.root=$E2E_REPO \
 -Dpmemcsi.driver.logs=$logs -Dpmemcsi.storm.create-calls=100 -Dpmemcsi.storm.mixed-threads=6 \
 -Dpmemcsi.storm.mixed-ops-per-thread=20" \
    run_launcher guest-reliability-lvm \
        --config jqwik.tries.default=15 \
        --config "jqwik.database=/tmp/e2e-jqwik-database" \
        --select-class dev.pmemcsi.reliability.ConformanceIT \
        --select-class dev.pmemcsi.reliability.StormIT \
        --select-class dev.pmemcsi.reliability.HostileInputIT || rc=$?
    lvm_pool_remove "${devices[@]}"
    return "$rc"
}

# Removes the volume groups and physical volumes on the given devices, then the pool's namespaces.
lvm_pool_remove() {
    local filter="" d vg ns config
    for d in "$@"; do
        filter+="\"a|^$d\$|\","
    done
    config="devices{filter=[${filter}\"r|.*|\"] obtain_device_list_from_udev=0 use_devicesfile=0} activation{udev_sync=0 udev_rules=0}"
    for vg in $(DM_DISABLE_UDEV=1 lvm vgs --config "$config" --noheadings -o vg_name); do
        DM_DISABLE_UDEV=1 lvm vgremove --config "$config" --force "$vg"
    done
    for d in "$@"; do
        DM_DISABLE_UDEV=1 lvm pvremove --config "$config" --yes "$d" || true
    done
    for ns in $(ndctl list --namespaces | jq -r --arg n "$LVM_POOL_NAME" \
            'if type == "array" then .[] else . end | select(.name == $n) | .dev'); do
        ndctl destroy-namespace --force "$ns"
    done
}

# Runs on purpose a test that must fail; the host checks that the failure was caught and reported.
gstep_self_test_must_fail() {
    run_launcher self-test-must-fail --select-class "$E2E_SELF_TEST_CLASS"
}

# LAUNCHER_CLASSPATH (default: the guest tests') and LAUNCHER_JVM_PROPS (more -D options, split on
# white space) adapt it to other test roots.
run_launcher() {
    local step=$1; shift
    local reports="$E2E_SHARE/junit/$step"
    mkdir -p "$reports"
    local -a jvm props
    read -r -a jvm <<< "$E2E_GUEST_JVM_OPTS"
    read -r -a props <<< "${LAUNCHER_JVM_PROPS:-}"
    log "JUnit console launcher for $step"
    "$JAVA_HOME/bin/java" "${jvm[@]}" "${props[@]}" \
        -Dpmemcsi.e2e.nvdimms="$E2E_NVDIMMS" -Dpmemcsi.e2e.shape="$E2E_SHAPE" -Dpmemcsi.e2e.regions="$E2E_REGIONS" \
        -Dpmemcsi.e2e.reboot-phase="$E2E_REBOOT_PHASE" -Dpmemcsi.e2e.reboot-manifest="$E2E_REBOOT_MANIFEST" \
        -jar "$E2E_CONSOLE_LAUNCHER" execute \
        --class-path "${LAUNCHER_CLASSPATH:-$E2E_GUEST_TEST_ROOTS:$E2E_TEST_CLASSPATH}" \
        --reports-dir "$reports" \
        --fail-if-no-tests \
        --disable-banner --disable-ansi-colors --details=tree \
        "$@"
}

# A tiny HTTP server whose answer only the guest knows: proves the host reaches the guest's port.
gstep_net_probe_start() {
    local www=/run/e2e-www
    mkdir -p "$www"
    head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$www/token"
    cp "$www/token" "$E2E_SHARE/net-probe.token"
    busybox httpd -p "0.0.0.0:$E2E_GUEST_PORT" -h "$www"
    pgrep -f "busybox httpd -p 0.0.0.0:$E2E_GUEST_PORT" > /run/e2e-net-probe.pid
    log "net probe listening on $E2E_GUEST_PORT (pid $(cat /run/e2e-net-probe.pid))"
}

gstep_net_probe_stop() {
    kill "$(cat /run/e2e-net-probe.pid)"
    rm -f /run/e2e-net-probe.pid
}

# --- the driver under test -------------------------------------------------------------------------
# Started in the background, listening on TCP so host-side ITs reach it through the forwarded port.
DRIVER_PID_FILE=/run/e2e-driver.pid

driver_alive() {
    local pid=$1 state
    [[ -r /proc/$pid/stat ]] || return 1
    state=$(awk '{print $3}' "/proc/$pid/stat")
    [[ $state != Z ]]
}

gstep_driver_start() {
    local -a cmd args jvm
    if [[ -x "$E2E_DRIVER_LAUNCHER" ]]; then
        cmd=("$E2E_DRIVER_LAUNCHER")
    else
        read -r -a jvm <<< "$E2E_GUEST_JVM_OPTS"
        cmd=("$JAVA_HOME/bin/java" "${jvm[@]}" -jar "$E2E_DRIVER_JAR")
    fi
    read -r -a args <<< "$E2E_DRIVER_ARGS"
    # The driver stages and publishes only below its --kubelet-dir's plugins/ and pods/.
    mkdir -p "$E2E_GUEST_KUBELET_DIR/plugins" "$E2E_GUEST_KUBELET_DIR/pods"
    log "starting driver: ${cmd[*]} ${args[*]}"
    setsid "${cmd[@]}" "${args[@]}" < /dev/null > "$E2E_SHARE/driver.log" 2>&1 &
    local pid=$!
    echo "$pid" > "$DRIVER_PID_FILE"
    local deadline=$(( SECONDS + E2E_DRIVER_START_TIMEOUT ))
    while (( SECONDS < deadline )); do
        if ! driver_alive "$pid"; then
            log "driver exited before listening on $E2E_GUEST_PORT"
            return 1
        fi
        if (exec 3<> "/dev/tcp/127.0.0.1/$E2E_GUEST_PORT") 2>/dev/null; then
            log "driver (pid $pid) listens on $E2E_GUEST_PORT after $(( SECONDS ))s"
            return 0
        fi
        sleep 1
    done
    log "driver did not listen on $E2E_GUEST_PORT within ${E2E_DRIVER_START_TIMEOUT}s"
    return 1
}

# A clean stop is part of the contract: SIGTERM must end the driver within its grace period.
gstep_driver_stop() {
    [[ -f $DRIVER_PID_FILE ]] || { log "no driver was started"; return 1; }
    local pid i
    pid=$(cat "$DRIVER_PID_FILE")
    driver_alive "$pid" || { log "driver (pid $pid) had already exited"; return 1; }
    kill -TERM "$pid"
    for (( i = 0; i < 60; i++ )); do
        driver_alive "$pid" || { log "driver stopped after SIGTERM"; return 0; }
        sleep 0.5
    done
    log "driver ignored SIGTERM for 30s; killing it"
    kill -KILL "$pid"
    return 1
}

# The cxl shape: the driver, started in direct mode, found the CXL region (its start-up log line) and
# reports it in its region metrics with technology="cxl".
gstep_cxl_driver_check() {
    local region metrics deadline=$(( SECONDS + E2E_DRIVER_START_TIMEOUT ))
    region=$(ndctl list --regions | jq -r 'if type == "array" then .[0] else . end | .dev')
    # The driver serves CSI before its backend has started (calls wait for it), and registers the
    # region metrics once it has: wait for its "ready" line.
    until grep -q ' ready on node ' "$E2E_SHARE/driver.log"; do
        (( SECONDS < deadline )) || { log "the driver was not ready within ${E2E_DRIVER_START_TIMEOUT}s"; return 1; }
        sleep 1
    done
    grep -E "region $region on ndbus[0-9]+ \(CXL, cxl\)" "$E2E_SHARE/driver.log" \
        || { log "the driver's log names no CXL region $region"; return 1; }
    exec 3<> "/dev/tcp/127.0.0.1/$E2E_GUEST_METRICS_PORT"
    printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
    metrics=$(timeout 60 cat <&3)
    exec 3<&-
    grep -E "^pmem_region_size_bytes\{.*region=\"$region\".*technology=\"cxl\"" <<< "$metrics" \
        || { log "no pmem_region_size_bytes of $region with technology=\"cxl\""; grep '^pmem_region' <<< "$metrics"; return 1; }
}

# Whatever ran before must have cleaned up: no namespace, no pmem mount.
gstep_leak_check() {
    local ns mounts
    ns=$(ndctl list --namespaces)
    mounts=$(grep -E '^/dev/(pmem|dax)' /proc/mounts || true)
    [[ -z $ns ]] || log "namespaces left behind: $ns"
    [[ -z $mounts ]] || log "pmem mounts left behind: $mounts"
    [[ -z $ns && -z $mounts ]]
}

step=${1:?usage: steps.sh STEP}
fn=gstep_${step//-/_}
declare -F "$fn" > /dev/null || { echo "unknown guest step: $step" >&2; exit 2; }
"$fn"
