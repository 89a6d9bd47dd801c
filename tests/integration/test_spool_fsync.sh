#!/usr/bin/env bash
# The spool written at a cancel is made durable off the event loop: its fsync of
# the file and of the directory run on the background I/O threads, so signals,
# the control socket and the metrics stay served however slow the disk is. As in
# test_sc_fsync: strace -f shows which task made each fsync(2).
. "$(dirname "$0")/../lib.sh"

require_strace

seq -f 'a%03g' 1 200 >"$T/in.txt"
mkdir -p "$T/spool"
cat >"$T/job.yaml" <<YAML
shutdown: { spool: $T/spool/job.spool, kill_after: 1s, grace: 60s }
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: work
    workers: 2
    queue: { capacity: 20 }
    exec:
      argv: [sh, -c, 'case \$1 in a00[1-5]) echo "\$1" ;; *) sleep 1000 ;; esac', sh, "{}"]
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML
start_daemon "$T/job.yaml"
wait_for '[ "$(lines "$T/out.txt")" -ge 5 ] && [ "$(marked_children | wc -w)" -ge 2 ]' 60 ||
	fail "expected 5 results and 2 hanging children, got $(lines "$T/out.txt") and $(marked_children | wc -w)"

# From here on every fsync is traced, with the task that made it.
strace_attach "$DAEMON_PID" "$T/trace" -e trace=fsync,fdatasync
# Two SIGTERMs: the first starts a drain that cannot finish, the second cancels.
send_signal "$DAEMON_PID" TERM
send_signal "$DAEMON_PID" TERM
wait_exit "$DAEMON_PID" 60
rc=$?
wait "$STRACE_PID"
assert_exit 75 "$rc" "sluiced after a second SIGTERM"
check_accounting
assert_ge "$(summary_field unfinished spooled)" 2 "items spooled"
[ -s "$T/spool/job.spool" ] || fail "no spool file at $T/spool/job.spool"

n=$(grep -c 'fsync(' "$T/trace" || true)
on_main=$(main_thread_calls "$T/trace" "$DAEMON_PID" 'fsync\\(')
note "$n fsync calls at the cancel, $on_main on the event loop's thread"
assert_ge "$n" 2 "fsync calls at the cancel (the spool file and its directory)"
assert_eq 0 "$on_main" "fsync calls made on the event loop's thread"
exit 0
