#!/usr/bin/env bash
# A sink peer that accepts the connection and then stops reading: the sink's
# buffer fills to its bound and holds the consumer back, the queues fill, and
# the tcp source stops reading, so the client sending into the daemon is held
# back too. The daemon's memory stays flat throughout.
. "$(dirname "$0")/../lib.sh"

[ "$SLUICE_SAN" = 1 ] && export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=4:thread_local_quarantine_size_kb=64"

read -r pin pout < <(python3 "$PYHELPERS/net_port.py" 2 | tr '\n' ' ')
GIB=$((1024 * 1024 * 1024))
python3 "$PYHELPERS/net_server.py" "127.0.0.1:$pout" "$T/peer.out" --no-read >"$T/server.log" 2>&1 &
srv=$!
wait_for 'grep -q ready "$T/server.log"' 30 || fail "the test peer did not start"
cat >"$T/c.yaml" <<YAML
queue: { capacity: 100 }
shutdown: { grace: 1s, spool: $T/spool }
sources:
  - { name: in, type: tcp, listen: "127.0.0.1:$pin" }
stages:
  - { name: pass, builtin: { op: passthrough } }
sinks:
  - { name: out, type: tcp, address: "127.0.0.1:$pout" }
YAML
start_daemon "$T/c.yaml"
wait_for 'grep -q "listening on" "$DAEMON_ERR"' 30 || fail "the daemon did not start listening"
python3 "$PYHELPERS/net_client.py" flood "127.0.0.1:$pin" "$GIB" 1000 "$T/sent" &
sender=$!
sent() { cat "$T/sent" 2>/dev/null || echo 0; }
# Everything stops once the kernel buffers on both sides and the sink's bound are full.
wait_for 'grep -q "held back by backpressure" "$DAEMON_ERR"' $((60 * SCALE)) ||
	fail "the source was never held back (the client sent $(sent) bytes)"
s1=$(sent)
r1=$(rss_kb "$DAEMON_PID")
note "held back: the client sent $s1 bytes; VmRSS $r1 KiB"
kill -0 "$sender" 2>/dev/null || fail "the client finished: nothing held it back"
assert_le "$s1" $((GIB / 8)) "bytes the client got through with a peer that does not read"
# Held back means held back: over the next two seconds nothing (more than the
# kernel's slack) gets through and memory does not grow.
assert_contains "$DAEMON_ERR" "queue 'pass' is full" "the warning names the full queue"
slack=8192
[ "$SLUICE_SAN" = 1 ] && slack=32768
for i in 1 2 3 4; do
	sleep 0.5
	s2=$(sent)
	r2=$(rss_kb "$DAEMON_PID")
	assert_le "$s2" $((s1 + 4 * 1024 * 1024)) "bytes sent while held back (sample $i)"
	assert_le "$r2" $((r1 + slack)) "VmRSS (KiB) while held back (sample $i)"
done
note "then: $s2 bytes, VmRSS $r2 KiB"
{
	kill -KILL "$sender" "$srv"
	wait "$sender" "$srv"
} 2>/dev/null
# The peer is gone: the drain cannot finish; the grace cancels; what the queues
# held and what the sink had not got through are spooled, nothing is lost.
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" $((60 * SCALE))
assert_exit 75 $? "sluiced (stopped with a sink that cannot write)"
check_accounting
note "$(grep -a '^unfinished' "$DAEMON_ERR")"
items=$(summary_field source in items)
written=$(summary_field sink out written)
spooled=$(summary_field unfinished spooled)
assert_eq 0 "$(summary_field unfinished lost)" "records lost"
assert_eq "$items" $((written + spooled)) "items read = records taken by the peer + spooled"
# With a peer that reads again, the next start delivers every spooled record.
python3 "$PYHELPERS/net_server.py" "127.0.0.1:$pout" "$T/peer2.out" >"$T/server2.log" 2>&1 &
srv=$!
wait_for 'grep -q ready "$T/server2.log"' 30 || fail "the second test peer did not start"
start_daemon "$T/c.yaml"
wait_for '[ "$(lines "$T/peer2.out")" -ge "$spooled" ]' $((60 * SCALE)) ||
	fail "only $(lines "$T/peer2.out") of the $spooled spooled records arrived after the restart"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "sluiced (replay)"
assert_eq "$spooled" "$(lines "$T/peer2.out")" "records delivered by the replay"
assert_contains "$DAEMON_ERR" "replayed: items=$spooled" "items replayed"
{ kill "$srv" && wait "$srv"; } 2>/dev/null
exit 0
