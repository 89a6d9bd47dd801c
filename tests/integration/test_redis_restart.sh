#!/usr/bin/env bash
# Redis restarted mid-run (SIGKILL; the stream is kept by appendfsync always):
# the source reconnects with backoff, recreates nothing that exists, reads its own
# pending entries again and goes on. Nothing is lost: every entry is written, and
# once done the group's pending list is empty.
. "$(dirname "$0")/../lib.sh"
. "$PYHELPERS/redis.sh"

N=20000
REDIS_ARGS=(--appendonly yes --appendfsync always)
redis_start
redis_fill in $N

cat >"$T/c.yaml" <<YAML
sources:
  - { name: in, type: redis-stream, address: $REDIS_SOCK, stream: in, group: g, block: 200ms }
stages:
  - name: work
    workers: 4
    rate: 4000/s
    builtin: { op: passthrough }
sinks:
  - { name: out, type: file, path: $T/out }
YAML
start_daemon "$T/c.yaml"
wait_for '[ "$(lines "$T/out")" -ge 3000 ]' 60 || fail "nothing came through"
redis_kill
note "Redis killed after $(lines "$T/out") lines"
wait_for 'grep -q "connection to .* lost\|cannot connect" "$DAEMON_ERR"' 30 || fail "the loss was not logged"
redis_start
distinct() { sort -u "$T/out" | wc -l; }
wait_for '[ "$(distinct)" -ge $N ] && [ "$(redis_pending in g)" = 0 ]' 120 ||
	fail "not done: $(distinct) distinct entries written, $(redis_pending in g) pending"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "sluiced (SIGTERM)"
note "$(lines "$T/out") lines for $N entries"
assert_eq "" "$(comm -3 <(seq 1 $N | sed 's/^/e/' | sort) <(sort -u "$T/out"))" "entries missing or unknown"
assert_eq 0 "$(redis_pending in g)" "entries pending"
assert_contains "$DAEMON_ERR" "reconnecting" "the warning"
exit 0
