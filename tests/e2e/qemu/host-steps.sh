#!/bin/bash
# Host steps: `host-steps.sh NAME` runs hstep_NAME on the host while the guest waits at that point of the
# plan (guest-side services such as the driver keep running). run.sh exports the E2E_* environment.
set -euo pipefail

log() { echo "[host $(date +%T)] $*"; }

# The guest's HTTP probe answers with a token only the guest has: proves hostfwd reaches the guest.
hstep_net_probe() {
    local expected got
    expected=$(cat "$E2E_SHARE/net-probe.token")
    exec 3<> "/dev/tcp/127.0.0.1/$E2E_PORT"
    printf 'GET /token HTTP/1.0\r\nHost: e2e\r\n\r\n' >&3
    got=$(tail -n 1 <&3)
    exec 3>&-
    log "127.0.0.1:$E2E_PORT answered '$got'"
    [[ $got == "$expected" ]] || { log "expected the guest's token '$expected'"; return 1; }
}

# Host-side ITs (failsafe, *IT in e2e) against the driver in the guest, through the forwarded port.
hstep_host_it() {
    local rc=0
    # Reports of an earlier run must not pass for this one's.
    rm -rf "$E2E_REPO/tests/e2e/target/failsafe-reports"
    mvn -B -Dstyle.color=never -f "$E2E_REPO/pom.xml" -pl :e2e verify \
        -Dpmemcsi.e2e.endpoint="127.0.0.1:$E2E_PORT" -Dpmemcsi.e2e.kubeletDir="$E2E_GUEST_KUBELET_DIR" || rc=$?
    mkdir -p "$E2E_OUT/junit/host-it"
    cp "$E2E_REPO"/tests/e2e/target/failsafe-reports/TEST-*.xml "$E2E_OUT/junit/host-it/" 2>/dev/null || true
    return "$rc"
}

step=${1:?usage: host-steps.sh STEP}
fn=hstep_${step//-/_}
declare -F "$fn" > /dev/null || { echo "unknown host step: $step" >&2; exit 2; }
"$fn"
