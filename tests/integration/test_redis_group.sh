#!/usr/bin/env bash
# Three sluiced in one consumer group share a stream of 100,000 entries; one is
# SIGKILLed mid-run. The other two take its pending entries over (XAUTOCLAIM after
# claim_idle). At the end every entry was processed at least once, the duplicates
# are at most what the killed daemon had in flight (its pending entries when it
# died) plus one batch, and the group's pending list is empty.
. "$(dirname "$0")/../lib.sh"
. "$PYHELPERS/redis.sh"

N=100000
BATCH=100
pids=()
redis_start
redis_fill in $N

for i in 1 2 3; do
	cat >"$T/c$i.yaml" <<YAML
name: worker$i
sources:
  - name: in
    type: redis-stream
    address: $REDIS_SOCK
    stream: in
    group: g
    consumer: c$i
    batch: $BATCH
    block: 200ms
    claim_idle: 2s
stages:
  - name: work
    workers: 4
    rate: 8000/s
    builtin: { op: passthrough }
sinks:
  - { name: out, type: file, path: $T/out$i }
YAML
	start_daemon "$T/c$i.yaml"
	pids[i]=$DAEMON_PID
done

wait_for '[ "$(lines "$T/out1")" -ge 5000 ]' 120 || fail "daemon 1 did not get going"
kill -KILL "${pids[1]}"
wait "${pids[1]}" 2>/dev/null
_REAPED="$_REAPED${pids[1]} "
# What it had taken and not acked: the most it can have written twice.
inflight=$(rcli XPENDING in g - + 100000 c1 | awk 'NR % 4 == 1' | wc -l)
note "daemon 1 killed after $(lines "$T/out1") lines, with $inflight entries pending"

distinct() { cat "$T"/out1 "$T"/out2 "$T"/out3 2>/dev/null | sort -u | wc -l; }
wait_for '[ "$(distinct)" -ge $N ] && [ "$(redis_pending in g)" = 0 ]' 240 ||
	fail "not done: $(distinct) distinct entries written, $(redis_pending in g) pending"

for i in 2 3; do
	kill -TERM "${pids[i]}"
	wait_exit "${pids[i]}" 60
	assert_exit 0 $? "daemon $i (SIGTERM)"
done
total=$(cat "$T"/out1 "$T"/out2 "$T"/out3 | wc -l)
dups=$((total - N))
note "lines: daemon 1 $(lines "$T/out1"), daemon 2 $(lines "$T/out2"), daemon 3 $(lines "$T/out3"); duplicates $dups (bound $inflight in flight + $BATCH)"
assert_eq $N "$(distinct)" "distinct entries processed"
want=$(seq 1 $N | sed 's/^/e/' | sort)
assert_eq "" "$(comm -3 <(echo "$want") <(cat "$T"/out1 "$T"/out2 "$T"/out3 | sort -u))" "entries missing or unknown"
assert_le "$dups" $((inflight + BATCH)) "duplicates"
assert_eq 0 "$(redis_pending in g)" "entries pending in the group"
assert_ge "$(lines "$T/out2")" 1 "daemon 2 took a share"
assert_ge "$(lines "$T/out3")" 1 "daemon 3 took a share"
exit 0
