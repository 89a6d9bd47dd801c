#!/usr/bin/env bash
# A cancel (a second SIGTERM) with entries in the pipeline: the source is durable,
# so nothing is spooled; its unfinished entries simply stay pending in the group.
# The next start reads them first, and in the end every entry is written and none
# is pending.
. "$(dirname "$0")/../lib.sh"
. "$PYHELPERS/redis.sh"

N=2000
redis_start
redis_fill in $N
cat >"$T/c.yaml" <<YAML
shutdown: { spool: $T/spool }
sources:
  - { name: in, type: redis-stream, address: $REDIS_SOCK, stream: in, group: g, consumer: c }
stages:
  - { name: slow, workers: 4, rate: 200/s, builtin: { op: passthrough } }
sinks:
  - { name: out, type: file, path: $T/out }
YAML
start_daemon "$T/c.yaml"
wait_for '[ "$(lines "$T/out")" -ge 100 ]' 60 || fail "nothing came through"
send_signal "$DAEMON_PID" TERM
send_signal "$DAEMON_PID" TERM
wait_exit "$DAEMON_PID" 60
assert_exit 75 $? "sluiced (cancelled by a second SIGTERM: stopped early)"
assert_eq 0 "$(summary_field unfinished spooled)" "items spooled"
pending=$(redis_pending in g)
note "cancelled after $(lines "$T/out") lines; $pending entries pending"
assert_ge "$pending" 1 "entries left pending"
start_daemon "$T/c.yaml"
distinct() { sort -u "$T/out" | wc -l; }
wait_for '[ "$(distinct)" -ge $N ] && [ "$(redis_pending in g)" = 0 ]' 120 ||
	fail "not done: $(distinct) distinct entries written, $(redis_pending in g) pending"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "sluiced (the second run, SIGTERM)"
assert_eq "" "$(comm -3 <(seq 1 $N | sed 's/^/e/' | sort) <(sort -u "$T/out"))" "entries missing or unknown"
exit 0
