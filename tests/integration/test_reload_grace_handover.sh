#!/usr/bin/env bash
# A structural reload while the old pipeline holds items it cannot finish within
# shutdown.grace (200ms): its stage hangs on every item (workers 1). The reload
# replaces the stage with a fast one. It proves that once the grace has passed
# the old pipeline's unfinished items (queued, and the one in flight, whose child
# is stopped) are handed to the new pipeline instead of being lost or spooled:
#  A. to the stage of the same name;
#  B. when that name is gone, to the new pipeline's first stage.
# Every item reaches the sink exactly once, through the new command; nothing is
# spooled or lost; no child is left; the stop afterwards exits 0.
. "$(dirname "$0")/../lib.sh"
. "$PYHELPERS/reload.sh"

net() { python3 "$PYHELPERS/net_client.py" "$@"; }
port=$(python3 "$PYHELPERS/net_port.py")
ITEMS=$(printf 'x-%02d\\n' $(seq 1 20))
printf 'new x-%02d\n' $(seq 1 20) >"$T/want.txt"

head_yaml() { # OUT
	cat <<YAML
name: rl-grace
shutdown: { grace: 200ms, kill_after: 1s, spool: $T/rl.spool }
sources:
  - { name: feed, type: tcp, listen: "127.0.0.1:$port" }
sinks:
  - { name: out, type: file, path: $T/$1 }
stages:
YAML
}
SLOW='{ name: work, workers: 1, exec: { argv: [sh, -c, "sleep 60; echo \"old $1\"", sh, "{}"] } }'
FAST='exec: { argv: [sh, -c, "echo \"new $1\"", sh, "{}"] }'

# run_part LABEL OUT OLD_STAGES NEW_STAGES
run_part() {
	local label=$1 out=$2
	{ head_yaml "$out"; printf '%s\n' "$3"; } >"$T/c.yaml"
	start_daemon "$T/c.yaml"
	wait_running 'grep -aq "listening on 127.0.0.1:$port" "$DAEMON_ERR"' 30 || fail "$label: the daemon did not start listening"
	# Once the daemon closes the connection it has read all 20 items.
	assert_eq closed "$(net send "127.0.0.1:$port" "$ITEMS" --wait-close)" "$label: the sender's connection"
	wait_running '[ "$(count_children_named sleep)" -ge 1 ]' 30 || fail "$label: the slow stage did not start an item"
	{ head_yaml "$out"; printf '%s\n' "$4"; } >"$T/c.yaml"
	reload_sighup
	wait_running '[ "$(lines "$T/$out")" -ge 20 ]' $((30 * SCALE)) ||
		fail "$label: only $(lines "$T/$out") of the 20 items reached the sink after the reload"
	wait_previous_finished
	wait_running '[ "$(count_children_named sleep)" -eq 0 ]' 30 || fail "$label: the old stage's child was not stopped"
	kill -TERM "$DAEMON_PID"
	wait_exit "$DAEMON_PID" 60
	assert_exit 0 $? "$label: sluiced after SIGTERM"
	check_accounting
	assert_eq "spooled=0 lost=0" "$(grep -a '^unfinished: ' "$DAEMON_ERR" | sed 's/^unfinished: //')" "$label: unfinished"
	[ ! -e "$T/rl.spool" ] || fail "$label: a spool file was written"
	sort "$T/$out" >"$T/got.txt"
	assert_file_eq "$T/want.txt" "$T/got.txt" "$label: the items in the sink (sorted), each once, through the new stage"
	assert_no_leftovers 10
}

# A. The stage keeps its name: the items go back to 'work'.
run_part A out-a.txt \
	"  - $SLOW" \
	"  - { name: work, workers: 2, $FAST }"

# B. The stuck stage 'work' is gone: its items go to the first stage, 'fresh'.
run_part B out-b.txt \
	"  - { name: pre, builtin: { op: passthrough } }
  - $SLOW" \
	"  - { name: fresh, workers: 2, $FAST }
  - { name: post, builtin: { op: passthrough } }"
exit 0
