#!/usr/bin/env bash
# shield: true: on cancel, the items already running in a shielded stage are let
# finish (within shutdown.kill_after) and, the stage being the last one, their
# results reach the file sink. A non-shielded stage's running item is killed.
# Cancel comes from on_failure: cancel elsewhere, or from a second SIGTERM.
. "$(dirname "$0")/../lib.sh"

# cancel_now: SIGTERM (a graceful stop), then, once sluiced has logged that it
# is stopping, a second SIGTERM (cancel). Two separate signals, never merged.
cancel_now() {
	kill -TERM "$DAEMON_PID"
	wait_for 'grep -aqi "stopping" "$DAEMON_ERR"' 60 || fail "sluiced did not log that it is stopping after SIGTERM"
	kill -TERM "$DAEMON_PID"
}

# gate (not shielded, 2 workers): a and b pass; 'hang' hangs; 'boom' fails once
# a and b run in 'work' and 'hang' runs here: that cancels the pipeline.
# work (the last stage): each item takes 2s.
printf 'a\nb\nhang\nboom\n' >"$T/in.txt"
conf() { # SHIELD MARKER_DIR OUT
	cat <<YAML
shutdown: { kill_after: 5s, grace: 60s }
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: gate
    workers: 2
    on_failure: cancel
    exec:
      argv:
        - sh
        - -c
        - |
          case \$1 in
          hang) echo \$\$\$\$ >$2/hang.pid; sleep 1000 & wait ;;
          boom)
            i=0
            while [ ! -e $2/started.a ] || [ ! -e $2/started.b ] || [ ! -s $2/hang.pid ]; do
              i=\$((i + 1)); [ \$i -gt 1200 ] && break; sleep 0.05
            done
            exit 3 ;;
          esac
          echo "\$1"
        - sh
        - "{}"
  - name: work
    workers: 2
    shield: $1
    exec: { argv: [sh, -c, ': >$2/started.\$1; sleep 2; : >$2/finished.\$1; echo "done \$1"', sh, "{}"] }
sinks:
  - { name: out, type: file, path: $3 }
YAML
}

# Shielded: a and b finish and are written; 'hang' (in gate) is killed.
mkdir -p "$T/m1"
conf true "$T/m1" "$T/out1.txt" >"$T/c1.yaml"
start_daemon "$T/c1.yaml"
wait_exit "$DAEMON_PID" 120
rc=$?
assert_exit 2 "$rc" "sluiced (on_failure: cancel; work is shielded)"
check_accounting
assert_no_leftovers 10
for it in a b; do
	[ -e "$T/m1/started.$it" ] || fail "shielded: item $it never started in stage work"
	[ -e "$T/m1/finished.$it" ] || fail "shielded: item $it was killed instead of being let finish"
done
printf 'done a\ndone b\n' >"$T/want1.txt"
sort "$T/out1.txt" >"$T/out1.sorted"
assert_file_eq "$T/want1.txt" "$T/out1.sorted" "shielded: the results of the items running at the cancel"
assert_eq 2 "$(summary_field work ok)" "shielded: stage work ok"
assert_eq 2 "$(summary_field sink out written)" "shielded: sink written"
assert_eq 1 "$(summary_field gate failed)" "shielded: stage gate failed"
assert_eq 1 "$(summary_field gate in_flight)" "shielded: stage gate in_flight ('hang' was killed, unfinished)"
pid=$(cat "$T/m1/hang.pid")
! _alive "$pid" || fail "shielded: the non-shielded 'hang' (pid $pid) is still running"

# Not shielded: a and b are killed with the rest; nothing is written.
mkdir -p "$T/m2"
conf false "$T/m2" "$T/out2.txt" >"$T/c2.yaml"
start_daemon "$T/c2.yaml"
wait_exit "$DAEMON_PID" 120
rc=$?
assert_exit 2 "$rc" "sluiced (on_failure: cancel; nothing shielded)"
check_accounting
assert_no_leftovers 10
for it in a b; do
	[ -e "$T/m2/started.$it" ] || fail "not shielded: item $it never started in stage work"
	[ ! -e "$T/m2/finished.$it" ] || fail "not shielded: item $it ran to its end instead of being killed"
done
[ ! -s "$T/out2.txt" ] || fail "not shielded: results were written: $(head -3 "$T/out2.txt")"
assert_eq 0 "$(summary_field work ok)" "not shielded: stage work ok"
assert_eq 2 "$(summary_field work in_flight)" "not shielded: stage work in_flight (killed, unfinished)"

# A second SIGTERM cancels: the shielded items running then finish and are
# written; the queued ones are spooled. Each item takes 1s.
seq -f 's%02g' 1 20 >"$T/in3.txt"
mkdir -p "$T/m3" "$T/spool"
cat >"$T/c3.yaml" <<YAML
shutdown: { kill_after: 5s, grace: 60s, spool: $T/spool/job.spool }
sources:
  - { name: in, type: file, path: $T/in3.txt }
stages:
  - name: work
    workers: 2
    shield: true
    exec: { argv: [sh, -c, ': >$T/m3/started.\$1; sleep 1; : >$T/m3/finished.\$1; echo "done \$1"', sh, "{}"] }
sinks:
  - { name: out, type: file, path: $T/out3.txt }
YAML
start_daemon "$T/c3.yaml"
wait_for '[ "$(ls "$T/m3" | grep -c "^started")" -ge 2 ]' 60 || fail "signal: two items did not start"
cancel_now
wait_exit "$DAEMON_PID" 60
rc=$?
assert_exit 75 "$rc" "sluiced (second SIGTERM; work is shielded)"
check_accounting
assert_no_leftovers 10
# shellcheck disable=SC2010 # counts the test's own marker files
started=$(ls "$T/m3" | grep -c '^started')
# shellcheck disable=SC2010 # counts the test's own marker files
finished=$(ls "$T/m3" | grep -c '^finished')
assert_eq "$started" "$finished" "signal: items finished (every item that had started)"
ls "$T/m3" | sed -n 's/^started\./done /p' | sort >"$T/want3.txt"
sort "$T/out3.txt" >"$T/out3.sorted"
assert_file_eq "$T/want3.txt" "$T/out3.sorted" "signal: the results of every started item"
assert_eq "$((20 - started))" "$(summary_field unfinished spooled)" "signal: spooled (the items never started)"
[ "$started" -lt 20 ] || fail "signal: every item ran; the cancel came too late to test anything"

# A shielded item that does not end within kill_after is stopped after it.
echo stuck >"$T/in4.txt"
cat >"$T/c4.yaml" <<YAML
shutdown: { kill_after: 1s, grace: 60s }
sources:
  - { name: in, type: file, path: $T/in4.txt }
stages:
  - name: work
    shield: true
    exec: { argv: [sh, -c, 'echo \$\$\$\$ >$T/stuck.pid; sleep 1000 & wait'] }
sinks:
  - { name: out, type: file, path: $T/out4.txt }
YAML
start_daemon "$T/c4.yaml"
wait_for '[ -s "$T/stuck.pid" ]' 60 || fail "stuck: the item never started"
cancel_now
wait_exit "$DAEMON_PID" 60
rc=$?
assert_exit 75 "$rc" "sluiced (a shielded item outlives kill_after)"
check_accounting
assert_no_leftovers 10
assert_eq 1 "$(summary_field unfinished lost)" "stuck: unfinished lost (no spool)"

# A shielded stage that is not the last: the results of its items that finish
# after the cancel go to the spool, at the next stage (README: so the work is not
# redone). The next start replays them into that stage; over the two runs every
# item runs once in each stage and is written once.
seq -f 'n%02g' 1 12 >"$T/in6.txt"
mkdir -p "$T/m6"
cat >"$T/c6.yaml" <<YAML
shutdown: { kill_after: 5s, grace: 60s, spool: $T/spool/six.spool }
sources:
  - { name: in, type: file, path: $T/in6.txt }
stages:
  - name: first
    workers: 2
    shield: true
    exec: { argv: [sh, -c, ': >$T/m6/started.\$1; sleep 1; echo "\$1" >>$T/ran-first; echo "first:\$1"', sh, "{}"] }
  - name: second
    workers: 1
    # SIGTERM ignored: an item running here at the cancel ends normally (well
    # within kill_after), so ran-second says exactly which items ran to their end.
    exec: { argv: [sh, -c, 'trap "" TERM; echo "\$1" >>$T/ran-second; echo "second:\$1"', sh, "{}"] }
sinks:
  - { name: out, type: file, path: $T/out6.txt }
YAML
start_daemon "$T/c6.yaml"
wait_for '[ "$(ls "$T/m6" | grep -c "^started")" -ge 2 ]' 60 || fail "not last: two items did not start"
cancel_now
wait_exit "$DAEMON_PID" 60
rc=$?
assert_exit 75 "$rc" "not last: sluiced (second SIGTERM)"
check_accounting
assert_no_leftovers 10
# shellcheck disable=SC2010 # counts the test's own marker files
started=$(ls "$T/m6" | grep -c '^started')
assert_eq "$started" "$(lines "$T/ran-first")" "not last: items that ran to their end in the shielded stage (all that started)"
assert_eq 0 "$(summary_field unfinished lost)" "not last: lost"
assert_eq "$((12 - $(lines "$T/out6.txt")))" "$(summary_field unfinished spooled)" "not last: spooled (every item not written)"
# Run 2: no new input; the spool is replayed.
: >"$T/in6.txt"
run_daemon "$T/c6.yaml"
rc=$?
assert_exit 0 "$rc" "not last: sluiced replaying the spool"
check_accounting
seq -f 'n%02g' 1 12 >"$T/want6.txt"
sort "$T/ran-first" >"$T/ran-first.sorted"
assert_file_eq "$T/want6.txt" "$T/ran-first.sorted" "not last: items run in the shielded stage over both runs (each once)"
sort "$T/ran-second" >"$T/ran-second.sorted"
sed 's/^/first:/' "$T/want6.txt" >"$T/want6b.txt"
assert_file_eq "$T/want6b.txt" "$T/ran-second.sorted" "not last: items run in the second stage over both runs (each once)"
sed 's/^/second:first:/' "$T/want6.txt" >"$T/want6c.txt"
sort "$T/out6.txt" >"$T/out6.sorted"
assert_file_eq "$T/want6c.txt" "$T/out6.sorted" "not last: output over both runs (each once)"
exit 0
