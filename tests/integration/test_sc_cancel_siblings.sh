#!/usr/bin/env bash
# on_failure: cancel cancels the siblings, as an asyncio TaskGroup does: a
# long-running item in another stage and one in a parallel slot of the failing
# stage are killed (their whole process groups), exit 2, and the error report on
# stderr has the failure grouped by stage and kind.
. "$(dirname "$0")/../lib.sh"

printf 'long1\nx1\nlong2\nbad\nx2\nx3\n' >"$T/in.txt"
cat >"$T/c.yaml" <<YAML
shutdown: { kill_after: 2s, grace: 60s }
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: prep
    workers: 2
    exec:
      argv:
        - sh
        - -c
        - |
          case \$1 in
          long1) echo \$\$\$\$ >$T/long1.pid; sleep 1000 & sleep 1000 ;;
          esac
          echo "\$1"
        - sh
        - "{}"
  - name: check
    workers: 2
    on_failure: cancel
    exec:
      argv:
        - sh
        - -c
        - |
          case \$1 in
          long2) echo \$\$\$\$ >$T/long2.pid; sleep 1000 & sleep 1000 ;;
          bad)
            # Fail only once both long-running siblings are running.
            i=0
            while [ ! -s $T/long1.pid ] || [ ! -s $T/long2.pid ]; do
              i=\$((i + 1)); [ \$i -gt 1200 ] && break; sleep 0.05
            done
            echo "bad item refused" >&2; exit 3 ;;
          esac
          echo "\$1"
        - sh
        - "{}"
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML
start_daemon "$T/c.yaml"
wait_exit "$DAEMON_PID" 120
rc=$?
assert_exit 2 "$rc" "sluiced (a stage with on_failure: cancel failed)"
check_accounting
[ -s "$T/long1.pid" ] || fail "the long-running item of stage prep never started"
[ -s "$T/long2.pid" ] || fail "the long-running item of stage check never started"
# Both sleeps (and their background children) were killed: nothing is left.
assert_no_leftovers 10
for f in long1 long2; do
	pid=$(cat "$T/$f.pid")
	! _alive "$pid" || fail "the shell of $f (pid $pid) is still running"
done
assert_eq 1 "$(summary_field check failed)" "stage check failed (only 'bad' failed; the killed ones are cancelled)"
assert_eq 0 "$(summary_field prep failed)" "stage prep failed (long1 was cancelled, not failed)"
assert_ge "$(summary_field prep in_flight)" 1 "stage prep in_flight (long1 was unfinished there)"
assert_ge "$(summary_field check in_flight)" 1 "stage check in_flight (long2 was unfinished there)"
assert_eq 0 "$(summary_field unfinished spooled)" "unfinished spooled (no spool configured)"
assert_ge "$(summary_field unfinished lost)" 2 "unfinished lost (no spool configured)"
# The report: the one failure, grouped by stage and kind.
grep -aqx 'error report: 1 item(s) failed' "$DAEMON_ERR" || fail "no line 'error report: 1 item(s) failed'"
grep -aqx '  check: exit status 3: 1 item(s)' "$DAEMON_ERR" || fail "no report line '  check: exit status 3: 1 item(s)'"
assert_contains "$DAEMON_ERR" "bad item refused" "stderr (the report carries the failed child's stderr)"
if grep -aE '^  [^ ].*: [0-9]+ item\(s\)$' "$DAEMON_ERR" | grep -av '^  check: exit status 3:' | grep -aq .; then
	fail "the report has groups for the cancelled items: $(grep -aE '^  [^ ].*: [0-9]+ item\(s\)$' "$DAEMON_ERR")"
fi
if grep -aqx 'long1\|long2' "$T/out.txt" 2>/dev/null; then fail "a cancelled item reached the sink"; fi
exit 0
