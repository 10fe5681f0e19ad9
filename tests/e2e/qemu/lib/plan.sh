# shellcheck shell=bash
# The plan: which steps run, where, in which order. One line per step:
#   SIDE NAME [expect=pass|fail] [needs=STEP] [fatal=1] [junit=1]
# SIDE guest runs gstep_NAME of guest/steps.sh in the guest; SIDE host makes the guest wait while
# hstep_NAME of host-steps.sh runs on the host. needs= skips a step whose prerequisite did not pass,
# fatal=1 skips everything after a failure, junit=1 requires a JUnit report under junit/NAME.

# E2E_STEPS (space-separated step names) keeps only those steps, besides setup: for working on one
# part of the suite. CI leaves it empty.
plan() {
    if [[ -n $E2E_STEPS && "$1 $2" != "guest setup" && " $E2E_STEPS " != *" $2 "* ]]; then
        return 0
    fi
    echo "$*" >> "$E2E_SHARE/plan"
}

write_plan() {
    : > "$E2E_SHARE/plan"
    plan guest setup fatal=1
    # The label-less and e820 shapes (E2E_SHAPE) only run the guest tests: each region there always
    # holds a namespace, and the direct-mode driver steps need labels. The cxl shape runs its guest
    # tests (config.sh picks them: the device manager and the Node service on the CXL region), then
    # starts the driver in direct mode on that region, checks its log and metrics, and stops it.
    if [[ $E2E_SHAPE == cxl && $E2E_SELF_TEST != only ]]; then
        log "E2E_SHAPE=cxl: the guest tests, and the driver started and stopped on the CXL region"
        plan guest guest-tests junit=1
        if driver_available; then
            plan guest driver-start
            plan guest cxl-driver-check needs=driver-start
            plan guest driver-stop needs=driver-start
        fi
    elif [[ $E2E_SHAPE != labelled && $E2E_SELF_TEST != only ]]; then
        log "E2E_SHAPE=$E2E_SHAPE: only the guest tests run"
        plan guest guest-tests junit=1
    elif [[ $E2E_SELF_TEST != only ]]; then
        plan guest guest-tests junit=1
        # Measurements, not tests: about 1.5 minutes under TCG, so only when asked for.
        if [[ $E2E_BENCHMARKS == 1 ]]; then
            plan guest guest-benchmarks
        fi
        if reliability_available; then
            plan guest guest-reliability junit=1
            # The same suites on the lvm backend: minutes under TCG, so only when E2E_STEPS names it.
            if [[ " $E2E_STEPS " == *" guest-reliability-lvm "* ]]; then
                plan guest guest-reliability-lvm junit=1
            fi
        else
            log "driver-tests or the driver is not built: guest-reliability is not part of this run"
        fi
        plan guest net-probe-start
        plan host net-probe needs=net-probe-start
        plan guest net-probe-stop needs=net-probe-start
        if driver_available; then
            plan guest driver-start
            plan host host-it needs=driver-start junit=1
            plan guest driver-stop needs=driver-start
        else
            log "no driver in $E2E_DRIVER_JAR yet: the driver steps are not part of this run"
        fi
        plan guest leak-check
    fi
    if [[ $E2E_SELF_TEST != 0 ]]; then
        plan guest self-test-must-fail expect=fail junit=1
    fi
}
