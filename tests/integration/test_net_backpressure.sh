#!/usr/bin/env bash
# Backpressure to the network: a client tries to send 1 GiB over tcp into a
# slow stage. The daemon stops reading, the kernel closes the client's TCP
# window: the client stays blocked far short of 1 GiB while the daemon's
# memory stays flat. A graceful stop then drains what was read.
. "$(dirname "$0")/../lib.sh"

# Under ASan freed memory sits in a quarantine: keep it small so RSS means something.
[ "$SLUICE_SAN" = 1 ] && export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=4:thread_local_quarantine_size_kb=64"

port=$(python3 "$PYHELPERS/net_port.py")
GIB=$((1024 * 1024 * 1024))
cat >"$T/c.yaml" <<YAML
queue: { capacity: 50 }
sources:
  - { name: tcp, type: tcp, listen: "127.0.0.1:$port" }
stages:
  - name: slow
    workers: 2
    exec: { argv: [sleep, "0.02"], stdout: discard }
sinks:
  - { name: out, type: discard }
YAML
start_daemon "$T/c.yaml"
wait_for 'grep -q "listening on" "$DAEMON_ERR"' 30 || fail "the daemon did not start listening"
python3 "$PYHELPERS/net_client.py" flood "127.0.0.1:$port" "$GIB" 1000 "$T/sent" &
sender=$!
sent() { cat "$T/sent" 2>/dev/null || echo 0; }

# The connection flows (the kernel's buffers alone take more than this).
wait_for '[ "$(sent)" -gt 1000000 ]' $((60 * SCALE)) || fail "the client could not send 1 MB"
rss0=$(rss_kb "$DAEMON_PID")
note "the client has sent $(sent) bytes; VmRSS ${rss0} KiB"
slack=16384
[ "$SLUICE_SAN" = 1 ] && slack=65536
for round in 1 2 3 4 5; do
	# shellcheck disable=SC2034 # read by the wait_for condition below
	last=$(sent)
	# The stage takes an item now and then, so the client moves, slowly.
	wait_for '[ "$(sent)" -gt $((last + 50000)) ]' $((60 * SCALE)) ||
		fail "the client made no progress at all (round $round): the source never resumed"
	kill -0 "$sender" 2>/dev/null || fail "the client finished: it was never held back"
	s=$(sent)
	r=$(rss_kb "$DAEMON_PID")
	note "round $round: sent $s bytes, VmRSS $r KiB"
	assert_le "$s" $((GIB / 4)) "bytes the client got through while the stage is slow"
	assert_le "$r" $((rss0 + slack)) "VmRSS (KiB) while the client pushes, given ${rss0} KiB when first held back"
done
hwm=$(hwm_kb "$DAEMON_PID")
assert_le "$hwm" $((rss0 * 2 + slack)) "VmHWM (KiB)"

{
	kill -KILL "$sender"
	wait "$sender"
} 2>/dev/null
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 120
assert_exit 0 $? "sluiced after SIGTERM"
check_accounting
n=$(summary_field source tcp items)
assert_eq "$n" "$(summary_field slow ok)" "every item read was processed"
assert_le "$((n * 1000))" "$(sent)" "items read, in bytes, against bytes sent"
exit 0
