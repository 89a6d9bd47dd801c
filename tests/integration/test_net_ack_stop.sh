#!/usr/bin/env bash
# ack: true and a graceful stop: SIGTERM while a client streams records (a
# window of unacked lines in flight). The drain writes every record read, and
# the client gets an "ok" for each of them before the connection ends; it is
# not reset while it is still sending (the daemon reads and drops the rest
# until the client closes), so it can read every ack. Three stops.
. "$(dirname "$0")/../lib.sh"

net() { timeout -k 5 120 python3 "$PYHELPERS/net_client.py" "$@"; }
pin=$(python3 "$PYHELPERS/net_port.py")

cat >"$T/c.yaml" <<YAML
sources:
  - { name: in, type: tcp, listen: "127.0.0.1:$pin", ack: true }
stages:
  - name: work
    workers: 4
    exec: { argv: [sh, -c, 'echo "\$1"', sh, "{}"] }
sinks:
  - { name: out, type: file, path: $T/out }
YAML
for run in 1 2 3; do
	rm -f "$T/out" "$T/acks"
	start_daemon "$T/c.yaml"
	wait_for 'grep -q "listening on" "$DAEMON_ERR"' 30 || fail "run $run: the daemon did not start listening"
	net ack "127.0.0.1:$pin" 100000 r --window 40 --progress "$T/acks" >"$T/ack.out" 2>"$T/ack.err" &
	client=$!
	wait_for '[ "$(cat "$T/acks" 2>/dev/null || echo 0)" -ge 200 ]' 60 || fail "run $run: no acks came"
	kill -TERM "$DAEMON_PID"
	wait_exit "$DAEMON_PID" 60
	assert_exit 0 $? "run $run: sluiced (SIGTERM: a graceful stop)"
	wait "$client"
	assert_exit 0 $? "run $run: the client ($(tail -1 "$T/ack.err"))"
	check_accounting
	r=$(cat "$T/ack.out")
	written=$(lines "$T/out")
	note "run $run: $written written; client: $r"
	assert_eq "$written" "$(summary_field source in items)" "run $run: records read = written"
	assert_eq "ok=$written fails=- eof" "$r" "run $run: the client's acks (one ok per record written)"
done
exit 0
