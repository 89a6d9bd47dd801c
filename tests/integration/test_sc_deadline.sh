#!/usr/bin/env bash
# deadline: 1s with a slow job: the job is cancelled when the deadline passes:
# exit 2, the log says the deadline passed, the slow children are killed, every
# item is accounted for, and the unfinished ones are spooled.
. "$(dirname "$0")/../lib.sh"

seq 1 50 >"$T/in.txt"
mkdir -p "$T/spool"
cat >"$T/c.yaml" <<YAML
deadline: 1s
shutdown: { kill_after: 1s, grace: 60s, spool: $T/spool/job.spool }
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: quick
    workers: 1
    exec: { argv: [echo, "{}"] }
  - name: slow
    workers: 2
    retry: { attempts: 2, backoff: 10ms, max_backoff: 10ms }
    exec: { argv: [sh, -c, 'echo \$\$\$\$ >>$T/started; case \$1 in 1|2) echo "\$1" ;; *) sleep 1000 & wait ;; esac', sh, "{}"] }
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML
t0=$(now_ms)
start_daemon "$T/c.yaml"
wait_exit "$DAEMON_PID" 120
rc=$?
t1=$(now_ms)
assert_exit 2 "$rc" "sluiced (the deadline passed)"
check_accounting
grep -ai 'deadline' "$DAEMON_ERR" | grep -aiq 'pass\|exceed\|expire\|reached' ||
	fail "stderr does not say the deadline passed: $(grep -ai deadline "$DAEMON_ERR" | head -3)"
assert_ge "$((t1 - t0))" 900 "ms before the cancel (deadline 1s)"
[ -s "$T/started" ] || fail "no child of the slow stage ever started"
assert_no_leftovers 10
# 1 and 2 finished before the deadline; nothing else did.
printf '1\n2\n' >"$T/want.txt"
sort "$T/out.txt" >"$T/out.sorted"
assert_file_eq "$T/want.txt" "$T/out.sorted" "output before the deadline"
assert_eq 0 "$(summary_field slow failed)" "stage slow failed (cancelled items are not failures)"
assert_eq 0 "$(summary_field unfinished lost)" "unfinished lost (a spool is configured)"
assert_eq 48 "$(summary_field unfinished spooled)" "unfinished spooled (the 48 items not finished)"
[ -s "$T/spool/job.spool" ] || fail "no spool file after the deadline cancel"
if grep -aq '^error report:' "$DAEMON_ERR"; then fail "an error report although no item failed"; fi
exit 0
