#!/usr/bin/env bash
# on_failure: cancel: the first failure cancels the pipeline: sources stop,
# in-flight children are killed, exit 2, an error report on stderr grouping the
# failures by stage and kind; every item accounted for.
. "$(dirname "$0")/../lib.sh"

cat >"$T/c.yaml" <<YAML
shutdown: { kill_after: 2s }
sources:
  - { name: gen, type: generate, count: 10000000, template: "item-{seq}" }
stages:
  - name: first
    builtin: { op: passthrough }
  - name: work
    workers: 4
    exec: { argv: [sh, -c, 'if [ "\$1" = 3 ]; then echo "seq 3 says no" >&2; exit 7; fi; sleep 1000 & sleep 1000', sh, "{seq}"] }
    on_failure: cancel
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML
start_daemon "$T/c.yaml"
wait_exit "$DAEMON_PID" 120
rc=$?
assert_exit 2 "$rc" "sluiced (a stage with on_failure: cancel failed)"
check_accounting
assert_eq 1 "$(summary_field work failed)" "stage work failed"
assert_eq 0 "$(summary_field work ok)" "stage work ok"
items=$(summary_field source gen items)
assert_le "$items" 1000000 "source gen items (the source must stop on cancel)"
# The report: a line naming the stage and the kind of failure, apart from the summary.
grep -av '^stage work: in=' "$DAEMON_ERR" | grep -a 'work' | grep -aqiE '\bexit|status 7' ||
	fail "no error report line naming stage 'work' and the failure kind (exit, status 7)"
assert_contains "$DAEMON_ERR" "seq 3 says no" "stderr (the error report should carry the child's stderr tail)"
[ ! -s "$T/out.txt" ] || fail "nothing should reach the sink, got: $(head -3 "$T/out.txt")"
assert_no_leftovers 10

# Two failing stages of different kinds: the report groups by stage and kind.
printf 'a\nb\nc\nd\n' >"$T/in.txt"
cat >"$T/c2.yaml" <<YAML
shutdown: { kill_after: 1s }
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: st-exit
    workers: 2
    exec: { argv: [sh, -c, 'case \$1 in a) exit 5 ;; esac; echo "\$1"', sh, "{}"] }
    on_failure: skip
  - name: st-slow
    workers: 2
    timeout: 1s
    exec: { argv: [sh, -c, 'case \$1 in b|c) sleep 1000 ;; esac; echo "\$1"', sh, "{}"] }
    on_failure: skip
sinks:
  - { name: out, type: discard }
YAML
run_daemon "$T/c2.yaml"
rc=$?
assert_exit 1 "$rc" "sluiced (skipped failures)"
check_accounting
assert_eq 1 "$(summary_field st-exit failed)" "stage st-exit failed"
assert_eq 2 "$(summary_field st-slow failed)" "stage st-slow failed"
# One report group per stage and kind (not the summary lines).
grep -av '^stage ' "$DAEMON_ERR" >"$T/report"
grep -a 'st-exit' "$T/report" | grep -aqw 'exit' ||
	fail "no error report line naming stage 'st-exit' and kind 'exit'"
grep -a 'st-slow' "$T/report" | grep -aqw 'timeout' ||
	fail "no error report line naming stage 'st-slow' and kind 'timeout'"
grep -a 'st-exit' "$T/report" | grep -aqw 'timeout' &&
	fail "the report mixes up stages and kinds: 'st-exit' with 'timeout': $(grep -a 'st-exit' "$T/report" | grep -aw timeout | head -2)"
exit 0
