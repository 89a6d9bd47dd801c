#!/usr/bin/env bash
# A SIGKILLed daemon cannot kill its children, so the kernel must: every command
# it started directly (exec source, exec stage workers, exec sink) dies with it
# (PR_SET_PDEATHSIG), at once, not when it next writes to a closed pipe. What a
# command started itself (the sleep a shell runs) is not covered: the test
# removes those, and the README says so.
. "$(dirname "$0")/../lib.sh"

cat >"$T/c.yaml" <<YAML
sources:
  - { name: cmd, type: exec, argv: [sh, -c, 'seq 1 100; exec sleep 1000'] }
stages:
  - name: work
    workers: 3
    exec: { argv: [sh, -c, 'sleep 1000'] }
sinks:
  - { name: out, type: exec, argv: [cat] }
YAML

for round in 1 2 3; do
	start_daemon "$T/c.yaml"
	# The source's command, three workers' shells and the sink's cat.
	wait_for '[ "$(children_of "$DAEMON_PID" | wc -w)" -ge 5 ]' 60 ||
		fail "round $round: the commands did not start: $(children_of "$DAEMON_PID")"
	kids=$(children_of "$DAEMON_PID")
	kill -KILL "$DAEMON_PID"
	wait_exit "$DAEMON_PID" 30
	alive() { local p n=0; for p in $kids; do _alive "$p" && n=$((n + 1)); done; echo $n; }
	wait_for '[ "$(alive)" = 0 ]' 10 || {
		# shellcheck disable=SC2086
		show_pids $kids
		fail "round $round: $(alive) of the daemon's children outlived its SIGKILL by 10 s"
	}
	# The workers' sleeps (grandchildren) are not the kernel's to kill.
	for _ in 1 2 3; do
		left=$(marked_pids)
		[ -z "$left" ] && break
		# shellcheck disable=SC2086
		kill -KILL $left 2>/dev/null
		sleep 0.1
	done
done
exit 0
