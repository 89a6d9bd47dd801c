#!/usr/bin/env bash
# A retry's backoff is a cancellation point: SIGTERM while items wait in a 10s
# backoff does not wait for it. After shutdown.grace (1s) the drain is cancelled:
# sluiced exits within grace + a few seconds, exit 75, and the items that were
# waiting to be retried are spooled (not failed, not lost).
. "$(dirname "$0")/../lib.sh"

printf 'a\nb\nc\nd\n' >"$T/in.txt"
mkdir -p "$T/tries" "$T/spool"
cat >"$T/c.yaml" <<YAML
shutdown: { grace: 1s, kill_after: 1s, spool: $T/spool/job.spool }
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: work
    workers: 4
    exec: { argv: [sh, -c, 'echo x >>$T/tries/\$1; exit 1', sh, "{}"] }
    retry: { attempts: 1000, backoff: 10s, max_backoff: 10s }
    on_failure: dead_letter
sinks:
  - { name: out, type: file, path: $T/out.txt }
dead_letter: { type: file, path: $T/dead.jsonl }
YAML
start_daemon "$T/c.yaml"
# Every item has failed at least once: each is in its backoff (or, after a short
# jittered one, failing again into the next).
wait_for '[ "$(ls "$T/tries" | wc -l)" -eq 4 ]' 60 || fail "the 4 items did not all run once: $(ls "$T/tries")"
t0=$(now_ms)
kill -TERM "$DAEMON_PID"
# grace (1s) + a few seconds; the safety net of wait_exit is well above it.
wait_exit "$DAEMON_PID" 120
rc=$?
t1=$(now_ms)
assert_exit 75 "$rc" "sluiced (SIGTERM while items wait to be retried; grace passes)"
check_accounting
assert_le "$((t1 - t0))" "$((1000 + 5000 * SCALE))" "ms from SIGTERM to exit (grace 1s; a 10s backoff must not be waited for)"
assert_eq 4 "$(summary_field unfinished spooled)" "unfinished spooled"
assert_eq 0 "$(summary_field unfinished lost)" "unfinished lost"
assert_eq 0 "$(summary_field work failed)" "stage work failed (waiting to be retried is not a failure)"
assert_eq 0 "$(summary_field work ok)" "stage work ok"
assert_eq 4 "$(summary_field work in_flight)" "stage work in_flight (unfinished there)"
[ -s "$T/spool/job.spool" ] || fail "no spool file at $T/spool/job.spool"
[ ! -s "$T/dead.jsonl" ] || fail "items waiting to be retried were dead-lettered: $(head -2 "$T/dead.jsonl")"
[ ! -s "$T/out.txt" ] || fail "output written: $(head -2 "$T/out.txt")"
assert_no_leftovers 10

# The spooled items run at the next start (now with a command that succeeds).
sed -i "s|argv: \[sh, -c, 'echo x >>$T/tries/\\\$1; exit 1', sh, \"{}\"\]|argv: [echo, \"{}\"]|" "$T/c.yaml"
grep -q 'argv: \[echo, "{}"\]' "$T/c.yaml" || fail "test bug: config not rewritten: $(grep argv "$T/c.yaml")"
: >"$T/in.txt"
run_daemon "$T/c.yaml"
rc=$?
assert_exit 0 "$rc" "sluiced (replaying the spooled items)"
check_accounting
printf 'a\nb\nc\nd\n' >"$T/want.txt"
sort "$T/out.txt" >"$T/out.sorted"
assert_file_eq "$T/want.txt" "$T/out.sorted" "output of the replayed items"
[ ! -e "$T/spool/job.spool" ] || fail "the spool is still there after its items were done"
exit 0
