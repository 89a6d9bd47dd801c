#!/usr/bin/env bash
# The old pipeline's results go to shared sinks through the new pipeline's sinks
# queue, under its bound. With a slow sink and a tiny queue the forwarding must
# wait for room and resume by itself, many times: the old pipeline drains and
# finishes long before its grace (60 s) and is never cancelled; every record is
# written once, whole. Also a pipeline without stages reloads (live and
# structural).
. "$(dirname "$0")/../lib.sh"
. "$PYHELPERS/reload.sh"

net() { python3 "$PYHELPERS/net_client.py" "$@"; }
port=$(python3 "$PYHELPERS/net_port.py")
cat >"$T/slow.py" <<'PY'
import os, sys, time
out = open(sys.argv[1], "ab", buffering=0)
while True:
    b = os.read(0, 16384)
    if not b:
        break
    out.write(b)
    time.sleep(0.005)
PY
write_conf() { # TAG
	cat >"$T/c.yaml" <<YAML
name: rl-forward
queue: { capacity: 2 }
shutdown: { grace: 60s, kill_after: 5s }
sources:
  - { name: feed, type: tcp, listen: "127.0.0.1:$port" }
stages:
  - name: work
    workers: 2
    queue: { capacity: 40 }
    exec: { argv: [sh, -c, 'printf "%s $1 " "\$1"; head -c 200000 /dev/zero | tr "\\\\0" x; echo', sh, "{}"] }
sinks:
  - { name: out, type: exec, argv: [python3, $T/slow.py, $T/out.txt] }
YAML
}
write_conf old
start_daemon "$T/c.yaml"
wait_running 'grep -aq "listening on 127.0.0.1:$port" "$DAEMON_ERR"' 30 || fail "no listener"
assert_eq closed "$(net send "127.0.0.1:$port" "$(printf 'r%03d\\n' $(seq 1 40))" --wait-close)" "sender"
wait_running '[ "$(lines "$T/out.txt")" -ge 2 ]' 30 || fail "nothing written"
write_conf new
reload_sighup
wait_previous_finished 1 $((30 * SCALE))
assert_eq 0 "$(grep -ac 'cancelling the previous pipeline' "$DAEMON_ERR")" "the old pipeline cancelled"
assert_eq closed "$(net send "127.0.0.1:$port" "$(printf 's%03d\\n' $(seq 1 10))" --wait-close)" "sender 2"
wait_running '[ "$(lines "$T/out.txt")" -ge 50 ]' 60 || fail "only $(lines "$T/out.txt") of 50 records written"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "sluiced after SIGTERM"
check_accounting
assert_eq 50 "$(awk '{ print $1 }' "$T/out.txt" | sort -u | wc -l)" "distinct records"
assert_eq 50 "$(lines "$T/out.txt")" "records"
assert_eq 0 "$(awk 'length($3) != 200000' "$T/out.txt" | wc -l)" "torn records"

# --- No stages: a live reload and a structural one.
cat >"$T/n.yaml" <<YAML
name: rl-nostage
sources:
  - { name: gen, type: generate, interval: 10ms, template: "n-{seq}" }
sinks:
  - { name: out, type: file, path: $T/n1.txt }
YAML
start_daemon "$T/n.yaml"
wait_running '[ "$(lines "$T/n1.txt")" -ge 5 ]' 30 || fail "no-stage pipeline did not start"
send_signal "$DAEMON_PID" HUP
wait_running 'grep -aq "reload: reloaded" "$DAEMON_ERR"' 30 || fail "no-stage live reload"
sed -i "s|$T/n1.txt|$T/n2.txt|" "$T/n.yaml"
reload_sighup
wait_running '[ "$(lines "$T/n2.txt")" -ge 5 ]' 30 || fail "no-stage pipeline after a structural reload"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "no-stage sluiced after SIGTERM"
cat "$T/n1.txt" "$T/n2.txt" | sort | uniq -d >"$T/ndups"
[ ! -s "$T/ndups" ] || fail "no-stage: items twice"
exit 0
