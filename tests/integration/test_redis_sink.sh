#!/usr/bin/env bash
# The redis-stream sink. (1) A file of 5,000 lines into a stream with maxlen: 1000:
# every record is XADDed in order (the last entry is the last line), and the
# stream is trimmed to about 1,000 entries (MAXLEN ~ trims whole nodes, so a
# little more). (2) Redis is shut down while a rate-limited stage feeds the sink, and
# started again (its AOF kept the stream): the sink reconnects, sends again what had
# no reply, and nothing is lost (an entry whose reply was lost may be there twice).
. "$(dirname "$0")/../lib.sh"
. "$PYHELPERS/redis.sh"

REDIS_ARGS=(--appendonly yes)
redis_start
seq 1 5000 | sed 's/^/line/' >"$T/in"
cat >"$T/trim.yaml" <<YAML
sources:
  - { name: in, type: file, path: $T/in }
sinks:
  - { name: out, type: redis-stream, address: $REDIS_SOCK, stream: trimmed, maxlen: 1000 }
YAML
run_daemon "$T/trim.yaml"
assert_exit 0 $? "sluiced (file -> redis-stream)"
assert_eq 5000 "$(summary_field sink out written)" "records written"
len=$(rcli XLEN trimmed)
note "XLEN after 5,000 XADDs with maxlen 1000: $len"
assert_ge "$len" 1000 "entries kept"
assert_le "$len" 1200 "entries kept (trimmed)"
assert_eq line5000 "$(rcli XREVRANGE trimmed + - COUNT 1 | sed -n 3p)" "the last entry"
assert_eq item "$(rcli XREVRANGE trimmed + - COUNT 1 | sed -n 2p)" "its field"

N=20000
seq 1 $N | sed 's/^/g/' >"$T/in2"
cat >"$T/gen.yaml" <<YAML
sources:
  - { name: gen, type: file, path: $T/in2 }
stages:
  - { name: pace, rate: 4000/s, workers: 4, builtin: { op: passthrough } }
sinks:
  - name: out
    type: redis-stream
    address: $REDIS_SOCK
    stream: copy
    max_in_flight: 64
    backoff: 50ms
    max_backoff: 500ms
YAML
start_daemon "$T/gen.yaml"
wait_for '[ "$(rcli XLEN copy 2>/dev/null || echo 0)" -ge 2000 ]' 60 || fail "nothing written"
before=$(rcli XLEN copy)
redis_shutdown
note "Redis shut down after about $before entries"
wait_for 'grep -q "reconnecting" "$DAEMON_ERR"' 30 || fail "the loss was not logged"
redis_start
wait_exit "$DAEMON_PID" 120
assert_exit 0 $? "sluiced (file -> redis-stream, Redis restarted)"
assert_eq $N "$(summary_field sink out written)" "records written"
rcli XRANGE copy - + | awk 'NR % 3 == 0' | sort -u >"$T/got"
total=$(rcli XLEN copy)
note "entries in the stream: $total for $N records ($((total - N)) duplicates)"
assert_eq "" "$(comm -3 <(seq 1 $N | sed 's/^/g/' | sort) "$T/got")" "records missing or unknown"
exit 0
