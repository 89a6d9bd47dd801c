#!/usr/bin/env bash
# ack: true on tcp and unix sources. Every line gets one "ok" or "fail" back,
# in the order it was sent, only once the item is done end to end (written by
# the sinks, filtered, or failed for good): not while the sink's peer is down,
# not before a slow item ahead of it is done, not before every result of an
# item that became several is written. A cancel closes the connection instead
# of acking what was not done (the client resends those: at-least-once).
. "$(dirname "$0")/../lib.sh"

net() { timeout -k 5 120 python3 "$PYHELPERS/net_client.py" "$@"; }
read -r pin pout < <(python3 "$PYHELPERS/net_port.py" 2 | tr '\n' ' ')

# --- order and outcomes: item 3 is slow and fails; 6 filtered; 8 becomes 3 lines.
cat >"$T/a.yaml" <<YAML
sources:
  - { name: in, type: tcp, listen: "127.0.0.1:$pin", ack: true }
  - { name: sock, type: unix, path: $T/in.sock, ack: true }
stages:
  - name: work
    workers: 4
    exec:
      argv: [sh, -c, 'case "\$1" in *-3) sleep 0.5; exit 1;; *-8) printf "a\nb\nc\n";; *) echo "\$1";; esac', sh, "{}"]
      stdout: lines
  - { name: filter, builtin: { op: grep, pattern: "-6\$", invert: true } }
sinks:
  - { name: out, type: file, path: $T/a.out }
YAML
start_daemon "$T/a.yaml"
wait_for 'grep -q "listening on $T/in.sock" "$DAEMON_ERR"' 30 || fail "the daemon did not start listening"
got=$(net ack "127.0.0.1:$pin" 10 x)
assert_eq "fail=1 ok=9 fails=3" "$got" "acks (tcp)"
assert_eq 0 "$(grep -c '^x-3$' "$T/a.out")" "the failed item"
assert_eq 1 "$(grep -c '^c$' "$T/a.out")" "the item that became three lines"
got=$(net ack "unix:$T/in.sock" 200 u --window 20)
assert_eq "fail=1 ok=199 fails=3" "$got" "acks (unix, 20 in flight at a time)"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 1 $? "sluiced (one item failed)"
check_accounting

# --- no ack while the sink's peer is down; they come once it is back.
cat >"$T/b.yaml" <<YAML
sources:
  - { name: in, type: tcp, listen: "127.0.0.1:$pin", ack: true }
sinks:
  - { name: out, type: tcp, address: "127.0.0.1:$pout", backoff: 50ms, max_backoff: 200ms }
YAML
start_daemon "$T/b.yaml"
wait_for 'grep -q "listening on" "$DAEMON_ERR"' 30 || fail "the daemon did not start listening"
net ack "127.0.0.1:$pin" 5 y --progress "$T/acks" >"$T/ack.out" &
client=$!
wait_for 'grep -q "cannot connect to 127.0.0.1:$pout" "$DAEMON_ERR"' 30 || fail "the sink did not report its peer as down"
acks() { cat "$T/acks" 2>/dev/null || echo 0; }
assert_eq 0 "$(acks)" "acks while the sink cannot write"
python3 "$PYHELPERS/net_server.py" "127.0.0.1:$pout" "$T/peer.out" >"$T/server.log" 2>&1 &
srv=$!
wait "$client"
assert_eq "ok=5 fails=-" "$(cat "$T/ack.out")" "acks once the peer is back"
assert_eq 5 "$(lines "$T/peer.out")" "records at the peer"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "sluiced (acks after the sink's outage)"
{ kill "$srv" && wait "$srv"; } 2>/dev/null

# --- a cancel: what was not done is not acked; the connection closes.
cat >"$T/c.yaml" <<YAML
shutdown: { grace: 200ms, kill_after: 1s, spool: $T/spool }
sources:
  - { name: in, type: tcp, listen: "127.0.0.1:$pin", ack: true }
stages:
  - name: slow
    exec: { argv: [sh, -c, 'sleep 0.3; echo "\$1"', sh, "{}"] }
sinks:
  - { name: out, type: file, path: $T/c.out }
YAML
start_daemon "$T/c.yaml"
wait_for 'grep -q "listening on" "$DAEMON_ERR"' 30 || fail "the daemon did not start listening"
net ack "127.0.0.1:$pin" 10 z --progress "$T/acks2" >"$T/ack2.out" &
client=$!
wait_for '[ "$(cat "$T/acks2" 2>/dev/null || echo 0)" -ge 2 ]' 30 || fail "no acks came"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 75 $? "sluiced (cancelled by the grace)"
wait "$client"
r=$(cat "$T/ack2.out")
note "client: $r"
ok=$(echo "$r" | sed -n 's/.*ok=\([0-9]*\).*/\1/p')
case $r in *eof*) ;; *) fail "the connection was not closed on the unacked items: $r" ;; esac
written=$(lines "$T/c.out")
assert_le "$ok" "$written" "items acked (never more than those written)"
assert_eq 10 $((written + $(summary_field unfinished spooled))) "items written + spooled"
exit 0
