#!/usr/bin/env bash
# Signals keep being handled until sluiced has exited: SIGTERMs that keep coming
# while it cancels, writes its summary and cleans up (a supervisor or a user
# pressing ^C repeatedly) never kill it; the exit code is the one its summary
# announces (75 here: cancelled by a second signal, unfinished items lost).
# Several rounds, SIGTERM sent as fast as possible until it is gone.
. "$(dirname "$0")/../lib.sh"

cat >"$T/c.yaml" <<YAML
shutdown: { kill_after: 1s, grace: 60s }
sources:
  - { name: in, type: generate, count: 4 }
stages:
  - name: s
    workers: 4
    exec: { argv: [sh, -c, 'echo \$\$\$\$ >>$T/started; sleep 1000 & wait'] }
sinks:
  - { name: out, type: discard }
YAML
for round in 1 2 3 4 5 6 7 8 9 10; do
	rm -f "$T/started"
	start_daemon "$T/c.yaml"
	wait_for '[ "$(lines "$T/started")" -ge 4 ]' 60 || fail "round $round: the 4 items did not start"
	end=$(($(now_ms) + 60000))
	while _alive "$DAEMON_PID" && [ "$(now_ms)" -lt "$end" ]; do
		kill -TERM "$DAEMON_PID" 2>/dev/null
	done
	wait_exit "$DAEMON_PID" 10
	rc=$?
	said=$(sed -n 's/^summary: .* exit=\([0-9]*\) .*/\1/p' "$DAEMON_ERR")
	[ -n "$said" ] || fail "round $round: no summary line (exit code $rc)"
	assert_eq "$said" "$rc" "round $round: exit code vs the summary's exit= (a SIGTERM during the exit killed sluiced?)"
	assert_exit 75 "$rc" "round $round: sluiced under repeated SIGTERM"
	check_accounting
	assert_no_leftovers 10
done
exit 0
