#!/usr/bin/env bash
# Cancelled with no spool (none configured, STATE_DIRECTORY unset): the
# unfinished items are counted as lost, loudly, exit 75. The running children
# ignore SIGTERM, so the cancel has to escalate to SIGKILL after kill_after. Also: the grace period
# passing turns a drain into a cancel. And with STATE_DIRECTORY set, the
# default spool is $STATE_DIRECTORY/NAME.spool.
. "$(dirname "$0")/../lib.sh"

seq -f 'a%03g' 1 100 >"$T/in.txt"
cat >"$T/job.yaml" <<YAML
shutdown: { kill_after: 1s, grace: 60s }
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: work
    workers: 2
    queue: { capacity: 10 }
    exec:
      argv: [sh, -c, 'case \$1 in a00[1-3]) echo "\$1" ;; a00[4-6]) trap "" TERM; sleep 1000 & sleep 1000 ;; *) sleep 1000 & sleep 1000 ;; esac', sh, "{}"]
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML

# 1. Double SIGTERM, no spool.
start_daemon "$T/job.yaml"
wait_for '[ "$(lines "$T/out.txt")" -ge 3 ] && [ "$(marked_children | wc -w)" -ge 2 ]' 60 ||
	fail "expected 3 results and 2 hanging children, got $(lines "$T/out.txt") and $(marked_children | wc -w)"
send_signal "$DAEMON_PID" TERM
send_signal "$DAEMON_PID" TERM
wait_exit "$DAEMON_PID" 60
rc=$?
assert_exit 75 "$rc" "sluiced cancelled by a second SIGTERM without a spool"
check_accounting
assert_no_leftovers 10
read_items=$(summary_field source in items)
assert_eq 0 "$(summary_field unfinished spooled)" "unfinished spooled (no spool)"
assert_eq "$((read_items - 3))" "$(summary_field unfinished lost)" "unfinished lost (= items read - items finished)"
grep -av '^unfinished: ' "$DAEMON_ERR" | grep -aqi 'lost' || fail "the loss is not logged (only the summary line says lost=)"

# 2. One SIGTERM, grace 1s: the drain cannot finish, the grace passes, cancel.
sed -i 's/grace: 60s/grace: 1s/' "$T/job.yaml"
rm -f "$T/out.txt"
start_daemon "$T/job.yaml"
wait_for '[ "$(lines "$T/out.txt")" -ge 3 ] && [ "$(marked_children | wc -w)" -ge 2 ]' 60 ||
	fail "grace run: expected 3 results and 2 hanging children"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 120
rc=$?
assert_exit 75 "$rc" "sluiced after SIGTERM with the grace period passed"
check_accounting
assert_no_leftovers 10
read_items=$(summary_field source in items)
assert_eq "$((read_items - 3))" "$(summary_field unfinished lost)" "grace run: unfinished lost"

# 3. STATE_DIRECTORY set: the spool defaults to $STATE_DIRECTORY/job.spool.
sed -i 's/grace: 1s/grace: 60s/' "$T/job.yaml"
mkdir -p "$T/state"
rm -f "$T/out.txt"
STATE_DIRECTORY=$T/state start_daemon "$T/job.yaml"
wait_for '[ "$(lines "$T/out.txt")" -ge 3 ] && [ "$(marked_children | wc -w)" -ge 2 ]' 60 ||
	fail "STATE_DIRECTORY run: expected 3 results and 2 hanging children"
send_signal "$DAEMON_PID" TERM
send_signal "$DAEMON_PID" TERM
wait_exit "$DAEMON_PID" 60
rc=$?
assert_exit 75 "$rc" "sluiced cancelled (STATE_DIRECTORY set)"
check_accounting
read_items=$(summary_field source in items)
assert_eq "$((read_items - 3))" "$(summary_field unfinished spooled)" "STATE_DIRECTORY run: unfinished spooled"
assert_eq 0 "$(summary_field unfinished lost)" "STATE_DIRECTORY run: unfinished lost"
[ -s "$T/state/job.spool" ] || fail "no spool at \$STATE_DIRECTORY/job.spool ($(ls "$T/state"))"
exit 0
