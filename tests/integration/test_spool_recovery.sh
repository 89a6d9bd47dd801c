#!/usr/bin/env bash
# The spool under damage: a garbage or truncated spool is set aside (never
# half-replayed, never a crash loop) and the new input still runs; a daemon
# killed (SIGKILL) in the middle of a replay loses nothing: the next start
# replays those items again.
. "$(dirname "$0")/../lib.sh"

mkconf() { # STAGE-ARGV INPUT OUTPUT [WORKERS]
	cat >"$T/job.yaml" <<YAML
shutdown: { spool: $T/job.spool, kill_after: 1s }
sources:
  - { name: in, type: file, path: $2 }
stages:
  - name: work
    workers: ${4:-1}
    exec: { argv: $1, stdout: item }
sinks:
  - { name: out, type: file, path: $3 }
YAML
}
HANG="[sh, -c, 'sleep 1000']"
FAST="[\"true\"]"

seq -f 'new%02g' 1 5 >"$T/new.txt"

# 1. Garbage where the spool should be.
printf 'this is not a spool\n\0\377garbage\n' >"$T/job.spool"
mkconf "$FAST" "$T/new.txt" "$T/out1.txt"
run_daemon "$T/job.yaml"
rc=$?
assert_exit 0 "$rc" "start with a garbage spool"
check_accounting
assert_file_eq "$T/new.txt" "$T/out1.txt" "output with a garbage spool: the new input only"
[ ! -e "$T/job.spool" ] || fail "the garbage spool is still in place (it would be tried again at every start)"
ls "$T"/job.spool.* >/dev/null 2>&1 || fail "the garbage spool was deleted instead of set aside: $(ls "$T")"
grep -aq "$T/job.spool" "$DAEMON_ERR" || fail "the log does not name the damaged spool"

# Make a real spool: 30 items, every one hanging, then two SIGTERMs.
seq -f 'a%02g' 1 30 >"$T/in.txt"
make_spool() {
	rm -f "$T/job.spool"
	mkconf "$HANG" "$T/in.txt" "$T/discard.txt" 2
	start_daemon "$T/job.yaml"
	wait_for '[ "$(marked_children | wc -w)" -ge 2 ]' 60 || fail "the hanging children never started"
	send_signal "$DAEMON_PID" TERM
	send_signal "$DAEMON_PID" TERM
	wait_exit "$DAEMON_PID" 60
	rc=$?
	assert_exit 75 "$rc" "making a spool: cancelled by the second SIGTERM"
	check_accounting
	assert_eq 30 "$(summary_field unfinished spooled)" "making a spool: items spooled"
	[ -s "$T/job.spool" ] || fail "making a spool: no spool file"
}

# 2. A truncated spool: set aside whole, none of it replayed.
make_spool
size=$(stat -c %s "$T/job.spool")
truncate -s $((size - 20)) "$T/job.spool"
rm -f "$T"/job.spool.*
mkconf "$FAST" "$T/new.txt" "$T/out2.txt"
run_daemon "$T/job.yaml"
rc=$?
assert_exit 0 "$rc" "start with a truncated spool"
check_accounting
assert_file_eq "$T/new.txt" "$T/out2.txt" "output with a truncated spool: the new input only (no half replay)"
[ ! -e "$T/job.spool" ] || fail "the truncated spool is still in place"
ls "$T"/job.spool.* >/dev/null 2>&1 || fail "the truncated spool was deleted instead of set aside"

# 3. SIGKILL in the middle of a replay: the next start replays again.
make_spool
rm -f "$T"/job.spool.*
: >"$T/empty.txt"
mkconf "$HANG" "$T/empty.txt" "$T/out3.txt" 2
start_daemon "$T/job.yaml"
wait_for '[ "$(marked_children | wc -w)" -ge 2 ]' 60 || fail "replay run: the hanging children never started"
kill -KILL "$DAEMON_PID"
wait_exit "$DAEMON_PID" 30
for p in $(marked_pids); do kill -KILL "$p" 2>/dev/null; done
wait_for '[ -z "$(marked_pids)" ]' 10 || fail "could not clean up after the SIGKILL"
mkconf "$FAST" "$T/new.txt" "$T/out4.txt"
run_daemon "$T/job.yaml"
rc=$?
assert_exit 0 "$rc" "start after a replay was killed"
check_accounting
{ cat "$T/in.txt" "$T/new.txt"; } | sort >"$T/want4.sorted"
sort "$T/out4.txt" >"$T/out4.sorted"
assert_file_eq "$T/want4.sorted" "$T/out4.sorted" "after a killed replay: the 30 spooled items again, once each, plus the new input"
head -n 30 "$T/out4.txt" | sort >"$T/first30"
sort "$T/in.txt" >"$T/in.sorted"
assert_file_eq "$T/in.sorted" "$T/first30" "after a killed replay: the replayed items come first"
[ -z "$(ls "$T"/job.spool* 2>/dev/null)" ] || fail "spool files left after the replay finished: $(ls "$T"/job.spool*)"
exit 0
