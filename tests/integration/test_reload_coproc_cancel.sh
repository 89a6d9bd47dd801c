#!/usr/bin/env bash
# A reload whose old pipeline is cancelled after its grace while its co-process
# stage's results wait for room downstream (a slow stage behind it, queue of 1):
# once those results are through, the old co-processes are told to finish (stdin
# closed) and exit; none is left running beside the new pipeline. Every item
# reaches the sink once.
. "$(dirname "$0")/../lib.sh"
. "$PYHELPERS/reload.sh"

net() { python3 "$PYHELPERS/net_client.py" "$@"; }
port=$(python3 "$PYHELPERS/net_port.py")
cat >"$T/old.yaml" <<YAML
name: rl-coproc
shutdown: { grace: 200ms, kill_after: 1s }
sources:
  - { name: feed, type: tcp, listen: "127.0.0.1:$port" }
stages:
  - { name: a, workers: 3, coprocess: { argv: [cat] } }
  - { name: slow, workers: 1, queue: { capacity: 1 }, exec: { argv: [sh, -c, 'sleep 3; echo "\$1"', sh, "{}"] } }
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML
cat >"$T/new.yaml" <<YAML
name: rl-coproc
shutdown: { grace: 200ms, kill_after: 1s }
sources:
  - { name: feed, type: tcp, listen: "127.0.0.1:$port" }
stages:
  - { name: b, builtin: { op: passthrough } }
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML
cp "$T/old.yaml" "$T/c.yaml"
start_daemon "$T/c.yaml"
wait_running 'grep -aq "listening on 127.0.0.1:$port" "$DAEMON_ERR"' 30 || fail "no listener"
assert_eq closed "$(net send "127.0.0.1:$port" "$(printf 'i%02d\\n' $(seq 1 10))" --wait-close)" "sender"
wait_running '[ "$(count_children_named cat)" -ge 3 ] && [ "$(count_children_named sleep)" -ge 1 ]' 30 ||
	fail "the old pipeline did not get going"
cp "$T/new.yaml" "$T/c.yaml"
reload_sighup
wait_previous_finished 1 30
wait_running '[ "$(count_children_named cat)" -eq 0 ]' 30 ||
	fail "$(count_children_named cat) co-process(es) of the replaced pipeline still running"
wait_running '[ "$(lines "$T/out.txt")" -ge 10 ]' 30 || fail "only $(lines "$T/out.txt") of 10 items written"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 30
assert_exit 0 $? "sluiced after SIGTERM"
check_accounting
assert_eq 10 "$(sort -u "$T/out.txt" | wc -l)" "items, each once"
assert_eq 10 "$(lines "$T/out.txt")" "lines"
assert_no_leftovers 10
exit 0
