#!/usr/bin/env bash
# Logging cannot wedge the loop. stdout and stderr are one pipe (one open file
# description, as with 2>&1 or systemd's journal stream) whose reader stalls; a
# stdout sink fills it. Then:
#   - the description keeps its flags: the stdout sink writes through a private
#     one, so neither the daemon's fd 1/2 nor a child's inherited stderr is
#     made non-blocking;
#   - SIGUSR2 (a burst of log lines) does not spin on EAGAIN: the lines are
#     dropped and counted (sluice_log_dropped_total), and once the reader reads
#     again a line says how many were dropped;
#   - SIGTERM still acts within a few seconds, and a stall makes few write(2)
#     calls (strace -c; the old code made ~15,000 a second).
# Then the same with one unix socket for both (systemd's journal stream), which
# cannot be reopened: written with MSG_DONTWAIT, its flags untouched too.
. "$(dirname "$0")/../lib.sh"

require_strace

PORT=$(python3 "$PYHELPERS/net_port.py")
prom() { python3 "$PYHELPERS/http_get.py" "http://127.0.0.1:$PORT/metrics" "$T/m.txt" >/dev/null &&
	python3 "$PYHELPERS/promparse.py" get "$T/m.txt" "$@"; }
nonblock() { # FDINFO_FILE: prints 1 if its flags have O_NONBLOCK (octal 04000)
	local f
	f=$(awk '$1 == "flags:" { print $2 }' "$1") || return 1
	echo $(((8#$f & 8#4000) != 0))
}

mkfifo "$T/pipe"
# A reader that never reads (until told to): the pipe fills and stays full.
exec 3<>"$T/pipe"

cat >"$T/c.yaml" <<YAML
name: stall
shutdown: { grace: 1s, kill_after: 1s }
queue: { capacity: 100 }
sources:
  - { name: gen, type: generate, count: 50000, template: "record {seq} ................................................................" }
  - { name: idle, type: generate, interval: 1h, template: "idle" }
  - name: probe
    type: exec
    argv: [sh, -c, 'cp /proc/self/fdinfo/2 "\$0.tmp" && mv "\$0.tmp" "\$0"; echo probe', "$T/child-fd2"]
sinks:
  - { name: out, type: stdout }
metrics: { listen: "127.0.0.1:$PORT" }
YAML

DAEMON_ERR=/dev/null
env SLUICE_TEST_MARK="$MARK" "$SLUICED" -c "$T/c.yaml" </dev/null >"$T/pipe" 2>&1 &
DAEMON_PID=$!
_DAEMONS+=("$DAEMON_PID")

wait_for '[ -s "$T/child-fd2" ]' 60 || fail "the exec source's child did not run"
wait_for '[ "$(prom sluice_source_paused source=gen 2>/dev/null)" = 1 ]' 60 ||
	fail "the stdout sink never filled the pipe (the source was not held back)"
assert_eq 0 "$(nonblock /proc/"$DAEMON_PID"/fdinfo/1)" "O_NONBLOCK on the daemon's fd 1 (shared with fd 2)"
assert_eq 0 "$(nonblock /proc/"$DAEMON_PID"/fdinfo/2)" "O_NONBLOCK on the daemon's fd 2"
assert_eq 0 "$(nonblock "$T/child-fd2")" "O_NONBLOCK on a child's inherited stderr"

# The reader is stalled: status lines cannot be written.
for _ in 1 2 3; do
	send_signal "$DAEMON_PID" USR2
done
wait_for '[ "$(prom sluice_log_dropped_total 2>/dev/null)" -ge 1 ]' 30 ||
	fail "no log line counted as dropped: $(prom sluice_log_dropped_total)"
dropped=$(prom sluice_log_dropped_total)
note "$dropped log line(s) dropped while the reader stalled"

# The reader reads again (everything: the generator has an end, so the pipe
# empties): the daemon says what it dropped.
python3 - "$DAEMON_PID" >"$T/read.txt" <<'PY' || fail "no 'were dropped' line once the reader read again"
import os, select, signal, sys, time
pid, data, end, nudge = int(sys.argv[1]), b"", time.time() + 60, 0.0
while time.time() < end and b"log line(s) were dropped" not in data:
    if time.time() >= nudge:
        os.kill(pid, signal.SIGUSR2)
        nudge = time.time() + 0.5
    if select.select([3], [], [], 0.1)[0]:
        data += os.read(3, 1 << 16)
        data = data[-(1 << 20):]
line = [l for l in data.split(b"\n") if b"were dropped" in l]
print(line[0].decode(errors="replace") if line else "")
sys.exit(0 if line else 1)
PY
note "after the stall: $(cat "$T/read.txt")"

# Stalled again: the test fills the pipe itself (through a non-blocking
# description of its own), then traces the daemon from here on.
python3 - <<'PY' || fail "could not fill the pipe"
import os
fd = os.open("/proc/self/fd/3", os.O_WRONLY | os.O_NONBLOCK)
try:
    while True:
        os.write(fd, b"#" * 4095 + b"\n")
except BlockingIOError:
    pass
PY
strace_attach "$DAEMON_PID" "$T/strace.txt" -c -e trace=write
for _ in 1 2 3; do
	send_signal "$DAEMON_PID" USR2
done
t0=$(now_ms)
kill -TERM "$DAEMON_PID"
wait_for "! _alive $DAEMON_PID" $((10 * SCALE)) ||
	fail "sluiced did not stop within $((10 * SCALE))s of SIGTERM with its stderr stalled"
elapsed=$(($(now_ms) - t0))
note "stopped ${elapsed} ms after SIGTERM"
wait_exit "$DAEMON_PID" 30 >/dev/null
wait "$STRACE_PID"
exec 3<&-

# strace -c: "% time  seconds  usecs/call  calls  [errors]  syscall".
writes=$(awk '$NF == "write" { print $4 }' "$T/strace.txt")
note "write(2) calls from the second stall to the exit: ${writes:-?}"
assert_le "${writes:-0}" 1000 "write(2) calls from the second stall to the exit"

# stdout and stderr one unix socket nobody reads, as under systemd's journal.
PORT=$(python3 "$PYHELPERS/net_port.py")
sed -i "s/127.0.0.1:[0-9]*/127.0.0.1:$PORT/; s/count: 50000, //" "$T/c.yaml"
env SLUICE_TEST_MARK="$MARK" python3 - "$SLUICED" "$T/c.yaml" "$T/pid" <<'PY' &
import os, socket, subprocess, sys
ours, theirs = socket.socketpair()
p = subprocess.Popen([sys.argv[1], "-c", sys.argv[2]], stdin=subprocess.DEVNULL,
                     stdout=theirs.fileno(), stderr=theirs.fileno())
theirs.close()
with open(sys.argv[3] + ".tmp", "w") as f:
    f.write(str(p.pid))
os.rename(sys.argv[3] + ".tmp", sys.argv[3])
p.wait()  # never reading ours
PY
RUNNER=$!
wait_for '[ -s "$T/pid" ]' 30 || fail "the socket runner did not start sluiced"
DAEMON_PID=$(cat "$T/pid")
_DAEMONS+=("$DAEMON_PID")
wait_for '[ "$(prom sluice_source_paused source=gen 2>/dev/null)" = 1 ]' 60 ||
	fail "socket: the stdout sink never filled the socket"
assert_eq 0 "$(nonblock /proc/"$DAEMON_PID"/fdinfo/1)" "socket: O_NONBLOCK on the daemon's fd 1"
for _ in 1 2 3; do
	send_signal "$DAEMON_PID" USR2
done
wait_for '[ "$(prom sluice_log_dropped_total 2>/dev/null)" -ge 1 ]' 30 ||
	fail "socket: no log line counted as dropped"
t0=$(now_ms)
kill -TERM "$DAEMON_PID"
wait_for "! _alive $DAEMON_PID" $((10 * SCALE)) ||
	fail "socket: sluiced did not stop within $((10 * SCALE))s of SIGTERM"
note "socket: stopped $(($(now_ms) - t0)) ms after SIGTERM"
wait "$RUNNER"
exit 0
