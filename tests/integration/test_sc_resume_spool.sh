#!/usr/bin/env bash
# --resume together with a spool (README, "Joblog and --resume": items spooled by
# a cancel are replayed at the next start either way, so --resume with a spool
# neither loses nor repeats work). A file-source job cancelled part-way by a
# second SIGTERM spools its unfinished items; the next run with --resume replays
# them and reads the rest of the file: every line is processed exactly once over
# the two runs.
. "$(dirname "$0")/../lib.sh"

# cancel_now: SIGTERM (a graceful stop), then, once sluiced has logged that it
# is stopping, a second SIGTERM (cancel). Two separate signals, never merged.
cancel_now() {
	kill -TERM "$DAEMON_PID"
	wait_for 'grep -aqi "stopping" "$DAEMON_ERR"' 60 || fail "sluiced did not log that it is stopping after SIGTERM"
	kill -TERM "$DAEMON_PID"
}

seq -f 'L%03g' 1 100 >"$T/in.txt"
mkdir -p "$T/spool"
conf() { # OUT
	cat <<YAML
joblog: $T/job.log
shutdown: { grace: 60s, kill_after: 5s, spool: $T/spool/job.spool }
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: work
    workers: 2
    queue: { capacity: 10 }
    # SIGTERM ignored: an item running at the cancel ends normally (well within
    # kill_after), so the 'done' file says exactly which items ran to their end.
    exec: { argv: [sh, -c, 'trap "" TERM; sleep 0.05; echo "\$1" >>$T/done; echo "\$1"', sh, "{}"] }
sinks:
  - { name: out, type: file, path: $1 }
YAML
}

conf "$T/out1.txt" >"$T/c.yaml"
start_daemon "$T/c.yaml"
wait_for '[ "$(lines "$T/out1.txt")" -ge 10 ]' 60 || fail "run 1: no progress: $(lines "$T/out1.txt") lines"
cancel_now
wait_exit "$DAEMON_PID" 60
rc=$?
assert_exit 75 "$rc" "run 1: sluiced (second SIGTERM; a spool is configured)"
check_accounting
assert_no_leftovers 10
out1=$(lines "$T/out1.txt")
spooled=$(summary_field unfinished spooled)
assert_ge "$spooled" 1 "run 1: spooled"
assert_eq 0 "$(summary_field unfinished lost)" "run 1: lost"
[ "$out1" -lt 100 ] || fail "run 1: every item finished before the cancel; nothing left to resume"
[ -s "$T/spool/job.spool" ] || fail "run 1: no spool file"

conf "$T/out2.txt" >"$T/c.yaml"
run_daemon "$T/c.yaml" --resume
rc=$?
assert_exit 0 "$rc" "run 2: sluiced --resume (replaying the spool)"
check_accounting
cat "$T/out1.txt" "$T/out2.txt" | sort >"$T/both.txt"
sort "$T/both.txt" | uniq -d >"$T/dups.txt"
[ ! -s "$T/dups.txt" ] || fail "runs 1 + 2: $(wc -l <"$T/dups.txt") line(s) written twice (spooled, then read again from the file?), e.g.: $(head -3 "$T/dups.txt" | tr '\n' ' ')"
assert_file_eq "$T/in.txt" "$T/both.txt" "runs 1 + 2: every input line written exactly once"
sort "$T/done" >"$T/done.sorted"
assert_file_eq "$T/in.txt" "$T/done.sorted" "runs 1 + 2: every input line processed exactly once"
[ ! -e "$T/spool/job.spool" ] || fail "run 2: the spool is still there"
exit 0
