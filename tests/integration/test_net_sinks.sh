#!/usr/bin/env bash
# tcp, unix and exec sinks: a peer that goes away and comes back (records
# produced meanwhile are held and all delivered, in order, none twice); a peer
# that cuts the connection in the middle of a record (the record is sent again
# whole on the next connection); an exec sink's command that dies is restarted
# and gets every record it had not read.
. "$(dirname "$0")/../lib.sh"

net() { timeout -k 5 120 python3 "$PYHELPERS/net_client.py" "$@"; }
read -r pin pout < <(python3 "$PYHELPERS/net_port.py" 2 | tr '\n' ' ')
server() { # ADDR OUT [OPTIONS]: starts the peer; sets SRV
	python3 "$PYHELPERS/net_server.py" "$@" >"$T/server.log" 2>&1 &
	SRV=$!
	wait_for 'grep -q ready "$T/server.log"' 30 || fail "the test peer did not start"
}
stop_server() { { kill -KILL "$SRV" && wait "$SRV"; } 2>/dev/null; }
send_lines() { # FROM TO: lines "r-FROM".."r-TO" into the daemon's tcp source
	net send "127.0.0.1:$pin" "$(seq -f 'r-%g' "$1" "$2" | tr '\n' '|' | sed 's/|/\\n/g')" \
		--wait-close >/dev/null || fail "sending lines $1..$2"
}

# --- tcp: the peer goes away, records keep coming, the peer comes back.
cat >"$T/tcp.yaml" <<YAML
sources:
  - { name: in, type: tcp, listen: "127.0.0.1:$pin" }
sinks:
  - { name: out, type: tcp, address: "127.0.0.1:$pout", backoff: 50ms, max_backoff: 500ms }
YAML
server "127.0.0.1:$pout" "$T/peer.out"
start_daemon "$T/tcp.yaml"
wait_for 'grep -q "listening on" "$DAEMON_ERR"' 30 || fail "the daemon did not start listening"
send_lines 1 100
wait_for '[ "$(lines "$T/peer.out")" -ge 100 ]' 30 || fail "the first 100 records did not arrive"
stop_server
send_lines 101 300
wait_for 'grep -q "cannot connect to 127.0.0.1:$pout\|lost 127.0.0.1:$pout" "$DAEMON_ERR"' 30 ||
	fail "the daemon did not notice the peer was gone"
server "127.0.0.1:$pout" "$T/peer.out"
wait_for '[ "$(lines "$T/peer.out")" -ge 300 ]' 30 || fail "the held records did not arrive after the peer came back ($(lines "$T/peer.out"))"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "sluiced (tcp sink)"
check_accounting
seq -f 'r-%g' 1 300 >"$T/want"
assert_file_eq "$T/want" "$T/peer.out" "every record, in order, once"
assert_eq 300 "$(summary_field sink out written)" "sink written"
stop_server

# --- tcp: the connection is cut in the middle of a large record: it is sent again whole.
rm -f "$T/peer.out"*
cat >"$T/cut.yaml" <<YAML
max_item_bytes: 4MiB
sources:
  - { name: in, type: tcp, listen: "127.0.0.1:$pin" }
sinks:
  - { name: out, type: tcp, address: "127.0.0.1:$pout", backoff: 50ms, max_backoff: 200ms }
YAML
server "127.0.0.1:$pout" "$T/peer.out" --reset-after 1000
start_daemon "$T/cut.yaml"
wait_for 'grep -q "listening on" "$DAEMON_ERR"' 30 || fail "the daemon did not start listening"
{
	echo small-1
	head -c 3000000 /dev/zero | tr '\0' B
	echo
	echo small-2
} >"$T/records"
net send "127.0.0.1:$pin" "@$T/records" --wait-close >/dev/null || fail "sending"
wait_for 'grep -q "closed 1" "$T/server.log"' 30 || fail "the peer did not cut the first connection"
wait_for '[ -e "$T/peer.out.2" ] && [ "$(lines "$T/peer.out.2")" -ge 2 ]' 60 ||
	fail "the records were not sent again on a new connection"
assert_contains "$DAEMON_ERR" "sent again" "log"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "sluiced (cut connection)"
# The second connection starts at a record boundary and holds the large record whole.
head -c 8 "$T/peer.out.2" | grep -q '^small-1\|^BBBBBBBB' || fail "the new connection did not start at a record"
assert_eq 1 "$(awk 'length($0) == 3000000 && /^B+$/' "$T/peer.out.2" | wc -l)" "the large record, whole, on the new connection"
assert_eq 1 "$(grep -c '^small-2$' "$T/peer.out.2")" "the record after it"
stop_server

# --- unix sink, and an exec sink whose command dies every 5 records.
cat >"$T/unix.yaml" <<YAML
sources:
  - { name: gen, type: generate, count: 40, template: "u-{seq}" }
sinks:
  - { name: sock, type: unix, path: $T/peer.sock }
  - name: cmd
    type: exec
    argv: [sh, -c, 'i=0; while IFS= read -r l; do printf "%s\n" "\$l" >>$T/cmd.out; i=\$((i+1)); [ \$i -ge 5 ] && exit 3; done']
    backoff: 20ms
    max_backoff: 100ms
YAML
server "unix:$T/peer.sock" "$T/sock.out"
run_daemon "$T/unix.yaml"
assert_exit 0 $? "sluiced (unix and exec sinks)"
check_accounting
seq -f 'u-%g' 1 40 >"$T/want"
assert_file_eq "$T/want" "$T/sock.out" "unix sink"
assert_file_eq "$T/want" "$T/cmd.out" "exec sink: every record once, across restarts"
assert_contains "$DAEMON_ERR" "exit status 3" "log of the command's exits"
stop_server

# --- an exec sink whose command cannot start at all fails the start (exit 73).
cat >"$T/bad.yaml" <<YAML
sources:
  - { name: gen, type: generate, count: 1 }
sinks:
  - { name: cmd, type: exec, argv: [$T/no-such-command] }
YAML
run_daemon "$T/bad.yaml"
assert_exit 73 $? "sluiced (exec sink that cannot start)"
assert_contains "$DAEMON_ERR" "cannot run '$T/no-such-command'" "message"
exit 0
