#!/usr/bin/env bash
# Backpressure from a Redis stream: 1,000,000 entries wait in the stream, the
# stage is slow (rate: 2000/s; 200/s under ASan, whose quarantine of freed
# memory grows with the items). The source reads no more than the queue takes
# (two batches of credit), so the entries delivered and not acked stay within the
# queue's capacity, two batches and the workers, and the daemon's RSS stays flat
# while it works through them.
. "$(dirname "$0")/../lib.sh"
. "$PYHELPERS/redis.sh"

N=1000000
CAP=1024
BATCH=100
# Slow, yet the drain of a full queue at the stop takes a second, not seven.
RATE=2000/s
[ "$SLUICE_SAN" = 1 ] && RATE=200/s
redis_start
redis_fill in $N
assert_eq $N "$(rcli XLEN in)" "entries in the stream"

cat >"$T/c.yaml" <<YAML
queue: { capacity: $CAP }
sources:
  - { name: in, type: redis-stream, address: $REDIS_SOCK, stream: in, group: g, batch: $BATCH }
stages:
  - name: slow
    workers: 4
    rate: $RATE
    builtin: { op: passthrough }
sinks:
  - { name: out, type: file, path: $T/out }
YAML
start_daemon "$T/c.yaml"
wait_for '[ "$(lines "$T/out")" -ge 200 ]' 60 || fail "nothing came through"
rss0=$(rss_kb "$DAEMON_PID")
bound=$((CAP + 3 * BATCH + 4))
maxpend=0
for _ in $(seq 1 20); do
	p=$(redis_pending in g)
	[ "$p" -gt "$maxpend" ] && maxpend=$p
	sleep 0.25
done
rss1=$(rss_kb "$DAEMON_PID")
note "pending at most $maxpend (bound $bound); RSS ${rss0} KiB -> ${rss1} KiB; $(lines "$T/out") written"
assert_le "$maxpend" $bound "entries delivered and not acked"
assert_le $((rss1 - rss0)) 8192 "RSS growth in KiB while 1,000,000 entries wait"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "sluiced (SIGTERM)"
assert_eq 0 "$(redis_pending in g)" "pending after a graceful stop"
assert_eq "$(summary_field source in items)" "$(lines "$T/out")" "items read = written"
exit 0
