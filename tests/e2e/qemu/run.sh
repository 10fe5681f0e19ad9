#!/bin/bash
# End-to-end tests on real libnvdimm: boots Debian's kernel under QEMU with emulated NVDIMMs, reuses the
# host's root file system (read-only) as the guest's userland, runs the guest and host steps of the plan
# (lib/plan.sh), collects JUnit XML, logs and the serial console, and always powers the VM off.
#
#   tests/e2e/qemu/run.sh                 everything, plus the harness self-test, in one boot
#   tests/e2e/qemu/run.sh --no-self-test  everything but the self-test
#   tests/e2e/qemu/run.sh --self-test     only the self-test: passes if a deliberate guest failure is reported
#
# Knobs (environment): see lib/config.sh and docs/testing.md. Needs root (apt, 9p, NVDIMM backing files).
set -euo pipefail

for arg in "$@"; do
    case $arg in
        --self-test) E2E_SELF_TEST=only ;;
        --no-self-test) E2E_SELF_TEST=0 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
done

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/lib/config.sh"
source "$HERE/lib/log.sh"
source "$HERE/lib/prepare.sh"
source "$HERE/lib/vm.sh"
source "$HERE/lib/report.sh"
source "$HERE/lib/plan.sh"

[[ $(id -u) == 0 ]] || { echo "run.sh needs root" >&2; exit 2; }
for p in "$E2E_REPO" "$E2E_OUT" "$E2E_CACHE_DIR"; do
    # Paths travel on the kernel command line.
    [[ $p != *[[:space:]]* ]] || { echo "path with white space not supported: '$p'" >&2; exit 2; }
done

PHASE=start
T0=$(now_ms)
declare -A PHASE_MS=()

phase() { # phase NAME FUNCTION: host-side preparation, timed; a failure names the phase
    local start
    PHASE=$1
    start=$(now_ms)
    "$2"
    PHASE_MS[$1]=$(( $(now_ms) - start ))
}

on_exit() {
    local rc=$?
    vm_stop
    if [[ $E2E_KEEP_IMAGES != 1 ]]; then
        rm -rf "$E2E_IMAGES"
    fi
    if (( rc != 0 )) && [[ $PHASE != report ]]; then
        echo "FAILED in host phase '$PHASE' (exit status $rc)" >&2
        [[ -f $E2E_OUT/console.log ]] && print_context_tails >&2
    fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM

prepare_out() {
    # Only ever delete an output directory this harness made.
    if [[ -e $E2E_OUT && ! -f $E2E_OUT/.e2e-qemu-out ]]; then
        echo "$E2E_OUT exists and was not made by this harness; refusing to reuse it" >&2
        return 1
    fi
    rm -rf "$E2E_OUT"
    mkdir -p "$E2E_SHARE/sync" "$E2E_HOST_LOGS" "$E2E_OUT/junit"
    touch "$E2E_OUT/.e2e-qemu-out"
}

prepare_cached() {
    mkdir -p "$E2E_CACHE_DIR"
    # Concurrent runs share the cache; one prepares it at a time.
    exec {lock_fd}> "$E2E_CACHE_DIR/.lock"
    flock "$lock_fd"
    prepare_kernel
    prepare_initramfs
    exec {lock_fd}>&-
}

prepare_guest() {
    write_guest_config
    write_plan
    export_host_env
}

run_vm() {
    vm_start
    vm_supervise
}

collect() {
    local d
    for d in "$E2E_SHARE"/junit/*/; do
        [[ -d $d ]] || continue
        mkdir -p "$E2E_OUT/junit/$(basename "$d")"
        cp "$d"/*.xml "$E2E_OUT/junit/$(basename "$d")/" 2>/dev/null || true
    done
    [[ -f $E2E_SHARE/driver.log ]] && cp "$E2E_SHARE/driver.log" "$E2E_OUT/driver.log"
    local rss_kb total_ms
    rss_kb=$(cat "$E2E_OUT/qemu-rss-kb" 2>/dev/null || echo "?")
    total_ms=$(( $(now_ms) - T0 ))
    {
        for p in packages kernel build images guest-config; do
            echo "prepare_${p//-/_}_ms ${PHASE_MS[$p]:-?}"
        done
        echo "boot_to_guest_main_ms ${BOOT_MS:-?}"
        echo "vm_total_ms ${VM_MS:-?}"
        echo "qemu_peak_rss_kb $rss_kb"
        echo "total_ms $total_ms"
        [[ -f $E2E_SHARE/steps.tsv ]] && awk -F'\t' 'NR > 1 { print "step_" $1 "_ms", $6 }' "$E2E_SHARE/steps.tsv"
    } > "$E2E_OUT/timings.txt"
}

phase out prepare_out
log "output: $E2E_OUT"
phase packages prepare_packages
phase kernel prepare_cached
phase build prepare_build
phase images prepare_images
phase guest-config prepare_guest
phase vm run_vm
phase collect collect

PHASE=report
echo
echo "================ e2e results ================"
print_step_table
echo
status=0
if [[ $E2E_SELF_TEST != only ]]; then
    evaluate_run || status=1
elif [[ $VM_OUTCOME != "done" ]]; then
    echo "FAILED: the guest did not finish its plan ($VM_OUTCOME); last step started: $(last_started_step)"
    status=1
fi
if [[ $E2E_SELF_TEST != 0 ]]; then
    verify_self_test || status=1
fi
if (( status != 0 )); then
    echo
    print_context_tails
fi
echo
sed 's/^/  /' "$E2E_OUT/timings.txt"
if (( status == 0 )); then
    log "PASSED (results in $E2E_OUT)"
else
    log "FAILED (results in $E2E_OUT)"
fi
exit "$status"
