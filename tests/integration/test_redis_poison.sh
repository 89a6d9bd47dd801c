#!/usr/bin/env bash
# A poison entry: its stage kills the daemon (SIGKILL) each time, leaving a command
# of its own behind (sleep 5 &: a crashed daemon leaves orphans). Every restart
# reads the consumer's own pending entries again, and Redis counts the deliveries;
# once over max_deliveries (3) the entry goes to the dead letter (error "rejected",
# with the count) and is acked, so it cannot loop forever. The entries after it are
# processed, each once, and at once: the orphans do not keep the dead daemon's
# connections open (close-on-exec), where a read still blocked would take them.
# (Entries in flight with the poison when the daemon dies are delivered again too,
# and counted: so it is alone here.)
. "$(dirname "$0")/../lib.sh"
. "$PYHELPERS/redis.sh"

redis_start
rcli XADD in '*' item poison >/dev/null

cat >"$T/c.yaml" <<YAML
sources:
  - name: in
    type: redis-stream
    address: $REDIS_SOCK
    stream: in
    group: g
    consumer: c
    batch: 1
    max_deliveries: 3
stages:
  - name: work
    on_failure: dead_letter
    exec:
      argv: [sh, -c, 'if [ "\$1" = poison ]; then sleep 5 & kill -KILL \$PPID; sleep 5; fi; printf "%s\n" "\$1"', sh, "{}"]
      stdout: lines
sinks:
  - { name: out, type: file, path: $T/out }
dead_letter: { path: $T/dead }
YAML
for run in 1 2 3; do
	run_daemon "$T/c.yaml"
	assert_exit 137 $? "run $run: sluiced (killed by the poison entry)"
	# Its connections die with it: the stage's command (still sleeping) must not
	# hold them open, or a read still blocked there takes the next entries.
	wait_for '[ "$(rcli CLIENT LIST | grep -vc "cmd=client")" = 0 ]' 2 ||
		fail "run $run: the dead daemon's connections are still open: $(rcli CLIENT LIST)"
done
note "deliveries so far: $(rcli XPENDING in g - + 10 | sed -n 4p)"
start_daemon "$T/c.yaml"
wait_for '[ "$(lines "$T/dead")" -ge 1 ]' 60 || fail "the poison entry did not reach the dead letter"
redis_fill in 10
wait_for '[ "$(lines "$T/out")" -ge 10 ] && [ "$(redis_pending in g)" = 0 ]' 60 ||
	fail "not done: $(lines "$T/out") written, $(redis_pending in g) pending"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 1 $? "sluiced (an item failed: the poison entry)"
assert_eq 1 "$(lines "$T/dead")" "dead letter lines"
assert_eq rejected "$(jsonl "$T/dead" field error)" "its error"
assert_contains "$T/dead" "delivered 4 times, over max_deliveries (3)" "why"
assert_eq poison "$(jsonl "$T/dead" field item)" "its item"
assert_eq "" "$(comm -3 <(seq 1 10 | sed 's/^/e/' | sort) <(sort "$T/out"))" "the other entries, once each"
assert_eq 0 "$(redis_pending in g)" "entries pending"
exit 0
