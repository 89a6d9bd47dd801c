#!/usr/bin/env bash
# The systemd notify protocol, against a fake notify socket that records every
# datagram with a timestamp (tests/helpers/notify_sock.py): READY=1 before any
# STOPPING=1; STATUS= with counters, and a source held back by backpressure
# shows in it; WATCHDOG=1 at about half of WATCHDOG_USEC (loose bounds);
# RELOADING=1 then READY=1 on SIGHUP; EXTEND_TIMEOUT_USEC= while a long drain
# still makes progress; children never see NOTIFY_SOCKET or WATCHDOG_USEC. Also
# an abstract-namespace socket ("@name").
. "$(dirname "$0")/../lib.sh"

NS=$T/notify.sock
NLOG=$T/notify.log
notify() { python3 "$PYHELPERS/notify_sock.py" "$1" "$NLOG" "${@:2}"; }
ncount() { notify count "$@"; }

start_listener() { # SOCKET LOG
	rm -f "$2"
	env SLUICE_TEST_MARK="$MARK" python3 "$PYHELPERS/notify_sock.py" listen "$1" "$2" 300 &
	LISTENER=$!
	# shellcheck disable=SC2034 # read by the wait_for condition below
	LISTENER_LOG=$2
	wait_for '[ -e "$LISTENER_LOG" ]' 30 || fail "the fake notify socket did not come up"
}
stop_listener() {
	kill "$LISTENER" 2>/dev/null
	wait "$LISTENER" 2>/dev/null
}

# A slow stage behind a small queue: the source is soon held back, and a drain
# takes at least 20 x 0.2 s.
cat >"$T/c.yaml" <<YAML
name: notify
shutdown: { grace: 120s }
sources:
  - { name: gen, type: generate, interval: 10ms, template: "a-{seq}" }
stages:
  - name: slow
    workers: 1
    queue: { capacity: 30 }
    exec: { argv: [sh, -c, 'sleep 0.2; echo "\$\${NOTIFY_SOCKET:-}|\$\${WATCHDOG_USEC:-}|\$1"', sh, "{}"] }
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML

start_listener "$NS" "$NLOG"
NOTIFY_SOCKET=$NS WATCHDOG_USEC=1000000 start_daemon "$T/c.yaml"

wait_for '[ "$(ncount READY=1)" -ge 1 ]' 30 || fail "no READY=1"
wait_for '[ "$(ncount WATCHDOG=1)" -ge 6 ]' 60 || fail "fewer than 6 WATCHDOG=1 (WATCHDOG_USEC=1s): $(notify dump | tail -5)"
med=$(notify intervals WATCHDOG=1)
python3 -c "import sys; m = float(sys.argv[1]); sys.exit(0 if 0.2 <= m <= 1.0 else 1)" "$med" ||
	fail "median interval between WATCHDOG=1 is ${med}s; expected about 0.5s (half of WATCHDOG_USEC)"
assert_ge "$(ncount STATUS=)" 1 "STATUS= messages"
wait_for '[ "$(ncount "STATUS=running: ")" -ge 1 ]' 30 || fail "no STATUS= with counters"
wait_for 'notify dump | grep -q "STATUS=.*source .gen. held back"' 60 ||
	fail "the source held back by backpressure never showed in STATUS="

# SIGHUP: RELOADING=1 (with MONOTONIC_USEC), then READY=1 again.
kill -HUP "$DAEMON_PID"
wait_for '[ "$(ncount RELOADING=1)" -ge 1 ]' 30 || fail "no RELOADING=1 after SIGHUP"
wait_for '[ "$(ncount READY=1 --after RELOADING=1)" -ge 1 ]' 30 || fail "no READY=1 after RELOADING=1"
notify dump | grep -q "RELOADING=1 | MONOTONIC_USEC=[0-9]" || fail "RELOADING=1 without MONOTONIC_USEC"

# A reload that changes the structure: the old pipeline drains behind the new one,
# and systemd hears a reload, not a stop.
sed -i 's/sleep 0.2;/sleep 0.1;/' "$T/c.yaml"
kill -HUP "$DAEMON_PID"
wait_for '[ "$(ncount RELOADING=1)" -ge 2 ]' 30 || fail "no second RELOADING=1"
wait_for 'grep -aq "reload: reloaded .*the structure changed" "$DAEMON_ERR"' 30 ||
	fail "the structural reload was not applied"
# READY=1 after each RELOADING=1: two after the first one.
wait_for '[ "$(ncount READY=1 --after RELOADING=1)" -ge 2 ]' 30 || fail "no READY=1 after the second RELOADING=1"
assert_eq 0 "$(ncount STOPPING=1)" "STOPPING=1 before any stop (a reload is not a stop)"

# SIGTERM: STOPPING=1, then EXTEND_TIMEOUT_USEC while the drain moves on.
kill -TERM "$DAEMON_PID"
wait_for '[ "$(ncount STOPPING=1)" -ge 1 ]' 30 || fail "no STOPPING=1 after SIGTERM"
wait_for '[ "$(ncount EXTEND_TIMEOUT_USEC= --after STOPPING=1)" -ge 1 ]' 60 ||
	fail "no EXTEND_TIMEOUT_USEC= during the drain: $(notify dump | tail -5)"
wait_exit "$DAEMON_PID" 120
assert_exit 0 $? "sluiced after SIGTERM"
check_accounting

r=$(notify first READY=1)
s=$(notify first STOPPING=1)
[ "$r" -ge 0 ] && [ "$r" -lt "$s" ] || fail "READY=1 (#$r) must come before STOPPING=1 (#$s)"
notify dump | grep -q "STATUS=draining" || fail "no STATUS=draining"
# Children cannot speak for the daemon.
assert_eq "$(lines "$T/out.txt")" "$(grep -c '^||a-' "$T/out.txt")" "items whose command saw no NOTIFY_SOCKET/WATCHDOG_USEC"
stop_listener

# The abstract namespace.
ABS="@sluice-test-$MARK"
start_listener "$ABS" "$T/abs.log"
cat >"$T/job.yaml" <<YAML
sources:
  - { name: gen, type: generate, count: 3 }
sinks:
  - { name: out, type: discard }
YAML
NOTIFY_SOCKET=$ABS run_daemon "$T/job.yaml"
assert_exit 0 $? "a job with an abstract notify socket"
NLOG=$T/abs.log
wait_for '[ "$(ncount READY=1)" -ge 1 ]' 30 || fail "no READY=1 on the abstract socket"
stop_listener
assert_no_leftovers 10
exit 0
