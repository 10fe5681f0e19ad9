# shellcheck shell=bash
# Judges the run: which step failed, why (JUnit failures, the step's log), and the console and driver
# log around it. The self-test runs the same judgement on a step that fails on purpose.

E2E_LOG_TAIL=${E2E_LOG_TAIL:-40}

plan_flag() { # plan_flag STEP KEY -> value or empty
    awk -v s="$1" -v k="$2" '$2 == s { for (i = 3; i <= NF; i++) if (index($i, k "=") == 1) print substr($i, length(k) + 2) }' \
        "$E2E_SHARE/plan"
}

step_row() { # step_row STEP -> "side expect result rc ms" or nothing if it never ran
    [[ -f $E2E_SHARE/steps.tsv ]] || return 0
    awk -F'\t' -v s="$1" 'NR > 1 && $1 == s { print $2, $3, $4, $5, $6 }' "$E2E_SHARE/steps.tsv"
}

step_log() { # step_log STEP SIDE
    if [[ $2 == host ]]; then echo "$E2E_HOST_LOGS/$1.log"; else echo "$E2E_SHARE/logs/$1.log"; fi
}

# Failing test cases of JUnit XML reports: "class#method: message", one a line.
junit_failures() {
    local f
    for f in "$@"; do
        [[ -f $f ]] || continue
        awk 'BEGIN { RS = "<testcase " }
             NR > 1 && /<(failure|error)/ {
                 cls = name = msg = ""
                 if (match($0, /classname="[^"]*"/)) cls = substr($0, RSTART + 11, RLENGTH - 12)
                 if (match($0, /name="[^"]*"/)) name = substr($0, RSTART + 6, RLENGTH - 7)
                 if (match($0, /<(failure|error)[^>]*message="[^"]*"/)) {
                     m = substr($0, RSTART, RLENGTH); sub(/.*message="/, "", m); sub(/"$/, "", m); msg = m
                 }
                 gsub(/&#10;/, " ", msg); gsub(/&lt;/, "<", msg); gsub(/&gt;/, ">", msg); gsub(/&quot;/, "\"", msg); gsub(/&amp;/, "\\&", msg)
                 print cls "#" name ": " substr(msg, 1, 300)
             }' "$f"
    done
}

junit_reports() { ls "$E2E_OUT/junit/$1"/TEST-*.xml 2>/dev/null || true; }

# Judges one step as a required, passing step. Prints why it failed; returns 1 if it did.
check_step() {
    local step=$1 row side result rc ms log reports
    row=$(step_row "$step")
    if [[ -z $row ]]; then
        if grep -q "^E2E-STEP-START $step " "$E2E_SHARE/progress.log" 2>/dev/null; then
            side=$(plan_side "$step")
            echo "FAILED step '$step' ($side): started but did not finish ($VM_OUTCOME)"
            print_log_tail "$(step_log "$step" "$side")"
        else
            echo "FAILED step '$step': did not run ($VM_OUTCOME before it)"
        fi
        return 1
    fi
    read -r side _ result rc ms <<< "$row"
    reports=$(junit_reports "$step")
    if [[ $result == pass && ( $(plan_flag "$step" junit) != 1 || -n $reports ) ]]; then
        return 0
    fi
    log=$(step_log "$step" "$side")
    if [[ $result == skipped ]]; then
        echo "FAILED step '$step' ($side): skipped, because an earlier step failed"
        return 1
    fi
    if [[ $result == pass ]]; then
        echo "FAILED step '$step' ($side): exit status 0 but no JUnit report was collected"
    else
        echo "FAILED step '$step' ($side): exit status $rc after ${ms} ms"
    fi
    if [[ -n $reports ]]; then
        local failures
        # shellcheck disable=SC2086
        failures=$(junit_failures $reports)
        if [[ -n $failures ]]; then
            echo "  failing tests:"
            # shellcheck disable=SC2001 # indents every line
            sed 's/^/    /' <<< "$failures"
        else
            echo "  the JUnit reports show no failing test (exit status 2 of the launcher: no test found)"
        fi
    fi
    print_log_tail "$log"
    return 1
}

print_log_tail() {
    [[ -f $1 ]] || return 0
    echo "  last $E2E_LOG_TAIL lines of $1:"
    tail -n "$E2E_LOG_TAIL" "$1" | sed 's/^/    | /'
}

plan_side() { awk -v s="$1" '$2 == s { print $1; exit }' "$E2E_SHARE/plan"; }

print_context_tails() {
    echo "---- last $E2E_LOG_TAIL lines of the serial console ($E2E_OUT/console.log) ----"
    tail -n "$E2E_LOG_TAIL" "$E2E_OUT/console.log" 2>/dev/null | sed 's/^/    | /' || true
    if [[ -f $E2E_OUT/driver.log ]]; then
        echo "---- last $E2E_LOG_TAIL lines of the driver log ($E2E_OUT/driver.log) ----"
        tail -n "$E2E_LOG_TAIL" "$E2E_OUT/driver.log" | sed 's/^/    | /'
    fi
}

print_step_table() {
    local name rest
    [[ -f $E2E_SHARE/steps.tsv ]] || return 0
    echo "steps (side, expected, result, exit status, ms, tests):"
    while IFS=$'\t' read -r name rest; do
        printf '%s\t%s\t%s\n' "$name" "$rest" "$(step_test_totals "$name")"
    done < <(tail -n +2 "$E2E_SHARE/steps.tsv") \
        | awk -F'\t' '{ printf "  %-22s %-5s %-6s %-7s %4s %8s  %s\n", $1, $2, $3, $4, $5, $6, $7 }'
}

# "N tests, F failed, S skipped" over a step's JUnit XML reports, or "-" for a step without tests.
step_test_totals() {
    local dir=$E2E_OUT/junit/$1
    compgen -G "$dir/*.xml" > /dev/null || { echo "-"; return 0; }
    cat "$dir"/*.xml | grep -o '<testsuite [^>]*>' | awk '
        function attr(name,   m) { return match($0, " " name "=\"[0-9]+\"") ? substr($0, RSTART + length(name) + 3, RLENGTH - length(name) - 4) + 0 : 0 }
        { t += attr("tests"); f += attr("failures") + attr("errors"); s += attr("skipped") }
        END { printf "%d tests, %d failed, %d skipped\n", t, f, s }'
}

# Every planned step that must pass did pass, and the guest finished. Returns 1 otherwise.
evaluate_run() {
    local status=0 step
    if [[ $VM_OUTCOME != "done" ]]; then
        echo "FAILED: the guest did not finish its plan ($VM_OUTCOME); last step started: $(last_started_step)"
        status=1
    fi
    while read -r step <&3; do
        [[ $(plan_flag "$step" expect) == fail ]] && continue
        check_step "$step" || status=1
    done 3< <(awk '$1 !~ /^#/ && NF >= 2 { print $2 }' "$E2E_SHARE/plan")
    return "$status"
}

last_started_step() {
    awk '/^E2E-STEP-START/ { s = $2 } END { print (s == "" ? "(none)" : s) }' "$E2E_SHARE/progress.log" 2>/dev/null \
        || echo "(none)"
}

# The self-test passes only if the judgement of the deliberately failing step is "failed", names the
# step, names the failing test and carries the test's own message: the path every real failure takes.
verify_self_test() {
    local step=self-test-must-fail out status=0 problems=()
    out=$(check_step "$step") || status=$?
    (( status != 0 )) || problems+=("the harness judged the deliberately failing step a pass")
    grep -q "FAILED step '$step'" <<< "$out" || problems+=("the report does not name the step")
    grep -q "HarnessMustFailGuestTest#" <<< "$out" || problems+=("the report does not name the failing test")
    grep -q "deliberate failure for the harness self-test" <<< "$out" || problems+=("the test's message was lost")
    grep -Eq "exit status [1-9]" <<< "$out" || problems+=("the launcher's non-zero exit status was lost")
    if (( ${#problems[@]} == 0 )); then
        echo "SELF-TEST PASSED: the deliberate guest failure was caught and reported:"
        sed -n '1,3p' <<< "$out" | sed 's/^/    /'
        return 0
    fi
    echo "SELF-TEST FAILED:"
    printf '  - %s\n' "${problems[@]}"
    echo "  report was:"
    # shellcheck disable=SC2001 # indents every line
    sed 's/^/    /' <<< "$out"
    return 1
}
