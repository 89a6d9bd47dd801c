#!/usr/bin/env bash
# max_failures: N tolerates N failures of the stage; the N+1th cancels the
# pipeline (exit 2, "passed its failure budget"). max_failures: P% cancels when
# more than P% of the stage's finished items failed, once at least 10 finished.
. "$(dirname "$0")/../lib.sh"

# Items 1..40 in order through one worker; the listed ones fail with status 3.
seq 1 40 >"$T/in.txt"
conf() { # MAX_FAILURES FAILING-ITEMS-CASE-PATTERN OUT
	cat <<YAML
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: work
    workers: 1
    exec: { argv: [sh, -c, 'case \$1 in $2) exit 3 ;; esac; echo "\$1"', sh, "{}"] }
    max_failures: $1
    on_failure: dead_letter
sinks:
  - { name: out, type: file, path: $3 }
dead_letter: { type: file, path: $3.dead }
YAML
}

# 3 failures with max_failures: 3: tolerated, the job ends normally (exit 1).
conf 3 '5|10|15' "$T/a.txt" >"$T/a.yaml"
run_daemon "$T/a.yaml"
rc=$?
assert_exit 1 "$rc" "sluiced (3 failures, max_failures: 3)"
check_accounting
assert_eq 3 "$(summary_field work failed)" "stage work failed (within the budget)"
assert_eq 37 "$(summary_field work ok)" "stage work ok (within the budget)"
assert_eq 37 "$(lines "$T/a.txt")" "lines written (within the budget)"
assert_not_contains "$DAEMON_ERR" "failure budget" "stderr (3 failures are within a budget of 3)"

# The 4th failure (item 20) passes a budget of 3: cancel, exit 2.
conf 3 '5|10|15|20|25|30|35' "$T/b.txt" >"$T/b.yaml"
run_daemon "$T/b.yaml"
rc=$?
assert_exit 2 "$rc" "sluiced (4th failure with max_failures: 3)"
check_accounting
assert_contains "$DAEMON_ERR" "passed its failure budget" "stderr (the reason for the cancel)"
assert_eq 4 "$(summary_field work failed)" "stage work failed (cancelled at the 4th)"
assert_eq 4 "$(jsonl "$T/b.txt.dead" check)" "dead letter records"
assert_eq "5 10 15 20" "$(jsonl "$T/b.txt.dead" field item | tr '\n' ' ' | sed 's/ $//')" "dead-lettered items"
# One worker, in order: nothing after item 20 was started.
assert_eq 16 "$(summary_field work ok)" "stage work ok (items 1..19 but the 3 failed)"
if grep -aqx '2[1-9]\|3[0-9]\|40' "$T/b.txt"; then fail "items after the cancelling failure were processed: $(grep -ax '2[1-9]\|3[0-9]\|40' "$T/b.txt" | head -3)"; fi

# max_failures: 1 (the smallest): the second failure cancels.
conf 1 '3|7' "$T/c.txt" >"$T/c.yaml"
run_daemon "$T/c.yaml"
rc=$?
assert_exit 2 "$rc" "sluiced (2nd failure with max_failures: 1)"
check_accounting
assert_eq 2 "$(summary_field work failed)" "stage work failed (max_failures: 1)"

# Percent: 20% of finished items. Failing items 1 and 2 come before 10 items have
# finished: 2 of 2 is 100%, but the budget only applies from 10 finished items on,
# and 2 of 10 is 20% (not more than 20%): it goes on. Item 14 is the 3rd failure:
# 3 of 14 = 21% > 20%: cancel.
conf 20% '1|2|14|15|16' "$T/p.txt" >"$T/p.yaml"
run_daemon "$T/p.yaml"
rc=$?
assert_exit 2 "$rc" "sluiced (max_failures: 20%, 3 of 14 failed)"
check_accounting
assert_contains "$DAEMON_ERR" "passed its failure budget" "stderr (percent budget)"
assert_eq 3 "$(summary_field work failed)" "stage work failed (percent budget)"
assert_eq 11 "$(summary_field work ok)" "stage work ok (percent budget)"

# Percent within budget all the way: 4 of 40 = 10% with max_failures: 10%.
conf 10% '10|20|30|40' "$T/q.txt" >"$T/q.yaml"
run_daemon "$T/q.yaml"
rc=$?
assert_exit 1 "$rc" "sluiced (max_failures: 10%, 4 of 40 failed)"
check_accounting
assert_eq 4 "$(summary_field work failed)" "stage work failed (10% of 40)"
assert_eq 36 "$(lines "$T/q.txt")" "lines written (within the percent budget)"
assert_not_contains "$DAEMON_ERR" "failure budget" "stderr (10% is within a budget of 10%)"

# Fewer than 10 finished items never pass a percent budget: 5 of 5 fail.
seq 1 5 >"$T/in.txt"
conf 10% '*' "$T/r.txt" >"$T/r.yaml"
run_daemon "$T/r.yaml"
rc=$?
assert_exit 1 "$rc" "sluiced (5 of 5 failed, under 10 finished, max_failures: 10%)"
check_accounting
assert_eq 5 "$(summary_field work failed)" "stage work failed (under 10 finished)"
assert_not_contains "$DAEMON_ERR" "failure budget" "stderr (fewer than 10 finished)"
exit 0
