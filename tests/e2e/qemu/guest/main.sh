#!/bin/bash
# PID 1 of the e2e guest, after switch_root. Runs the plan the host wrote into the share, one step at a
# time, records each step's outcome in steps.tsv and always powers the VM off at the end. It must never
# exit: PID 1 exiting panics the kernel.
set -euo pipefail

SHARE=$1
power_off() {
    sync
    echo "E2E-GUEST-POWEROFF uptime=$(cut -d' ' -f1 /proc/uptime)" > /dev/console
    echo o > /proc/sysrq-trigger
    while :; do sleep 60; done
}
trap power_off EXIT

# shellcheck source=/dev/null
source "$SHARE/config.env"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 JAVA_HOME TERM=dumb

export E2E_SHARE=$SHARE

exec > >(tee -a "$SHARE/guest.log" > /dev/console) 2>&1

now_ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }
progress() { echo "$*" | tee -a "$SHARE/progress.log"; }

echo "uptime=$(cut -d' ' -f1 /proc/uptime)" > "$SHARE/guest-started"
progress "E2E-GUEST-START uptime=$(cut -d' ' -f1 /proc/uptime) kernel=$(uname -r)"
mkdir -p "$SHARE/logs" "$SHARE/junit" "$SHARE/sync"

# A host step: ask the host through the share, wait for its exit status.
run_host_step() {
    local name=$1 waited=0 limit=$(( E2E_HOST_STEP_TIMEOUT + 60 ))
    rm -f "$SHARE/sync/$name.rc"
    : > "$SHARE/sync/$name.request"
    while [[ ! -f "$SHARE/sync/$name.rc" ]]; do
        sleep 0.5
        waited=$(( waited + 1 ))
        if (( waited > limit * 2 )); then
            echo "host step $name: no answer from the host within ${limit}s"
            return 124
        fi
    done
    return "$(cat "$SHARE/sync/$name.rc")"
}

declare -A RESULT=()
FATAL_FAILED=
printf 'name\tside\texpect\tresult\trc\tms\n' > "$SHARE/steps.tsv"
while read -r side name rest; do
    [[ -z "$side" || "$side" == \#* ]] && continue
    expect=pass needs="" fatal=0
    for kv in $rest; do
        case $kv in
            expect=*) expect=${kv#expect=} ;;
            needs=*) needs=${kv#needs=} ;;
            fatal=*) fatal=${kv#fatal=} ;;
        esac
    done
    skip_reason=
    if [[ -n "$FATAL_FAILED" ]]; then
        skip_reason="fatal step $FATAL_FAILED failed"
    elif [[ -n "$needs" && "${RESULT[$needs]:-}" != pass ]]; then
        skip_reason="needs $needs, which did not pass"
    fi
    if [[ -n "$skip_reason" ]]; then
        progress "E2E-STEP-SKIP $name ($skip_reason)"
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$side" "$expect" skipped - 0 >> "$SHARE/steps.tsv"
        RESULT[$name]=skipped
        continue
    fi
    progress "E2E-STEP-START $name ($side)"
    start=$(now_ms) rc=0
    if [[ $side == guest ]]; then
        bash "$E2E_QEMU_DIR/guest/steps.sh" "$name" < /dev/null > >(tee "$SHARE/logs/$name.log") 2>&1 || rc=$?
    else
        run_host_step "$name" || rc=$?
    fi
    ms=$(( $(now_ms) - start ))
    # Outcome as run; whether that was expected is the host's judgement (the self-test step fails on purpose).
    if (( rc == 0 )); then result=pass; else result=fail; fi
    RESULT[$name]=$result
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$side" "$expect" "$result" "$rc" "$ms" >> "$SHARE/steps.tsv"
    progress "E2E-STEP-END $name result=$result rc=$rc ms=$ms"
    if [[ $result != pass && $fatal == 1 ]]; then
        FATAL_FAILED=$name
    fi
done < "$SHARE/plan"

echo "uptime=$(cut -d' ' -f1 /proc/uptime)" > "$SHARE/guest-done"
progress "E2E-GUEST-DONE uptime=$(cut -d' ' -f1 /proc/uptime)"
