#!/usr/bin/env bash
# A reload that changes a tcp source with `ack: true` (same address): its open
# connection carries over to the new source with its acks still owed. Records
# sent before the reload (one still running in the old pipeline) and after it
# are each acked "ok" once, in the order sent, only when done; then a clean close.
# And a framing change mid-record: bytes already searched are searched again
# with the new delimiter.
. "$(dirname "$0")/../lib.sh"
. "$PYHELPERS/reload.sh"

port=$(python3 "$PYHELPERS/net_port.py")
write_conf() { # IDLE_TIMEOUT FRAMING
	cat >"$T/c.yaml" <<YAML
name: rl-ack
sources:
  - { name: feed, type: tcp, listen: "127.0.0.1:$port", ack: true, idle_timeout: $1, framing: $2 }
stages:
  - name: work
    workers: 3
    exec: { argv: [sh, -c, 'case "\$1" in l1) while [ ! -e $T/release ]; do sleep 0.05; done;; esac; echo "\$1"', sh, "{}"] }
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML
}

# The client: l1..l3, then (once $T/go exists) l4 l5 and a half-close; prints each
# ack line as it comes, then "eof".
cat >"$T/client.py" <<'PY'
import os, socket, sys, time
port, go, first, second = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
s = socket.create_connection(("127.0.0.1", port))
s.sendall(first.encode().decode("unicode_escape").encode("latin-1"))
end = time.monotonic() + 60
while not os.path.exists(go):
    if time.monotonic() > end:
        print("timeout waiting for", go, flush=True); sys.exit(1)
    time.sleep(0.02)
s.sendall(second.encode().decode("unicode_escape").encode("latin-1"))
s.shutdown(socket.SHUT_WR)
s.settimeout(60)
buf = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    buf += d
    while b"\n" in buf:
        line, buf = buf.split(b"\n", 1)
        print(line.decode(), flush=True)
print("eof", flush=True)
PY

write_conf 0s lines
start_daemon "$T/c.yaml"
wait_for 'grep -aq "listening on 127.0.0.1:$port" "$DAEMON_ERR"' 30 || fail "the daemon did not start listening"
python3 "$T/client.py" "$port" "$T/go" 'l1\nl2\nl3\n' 'l4\nl5\n' >"$T/client.out" 2>&1 &
client=$!
wait_for '[ "$(lines "$T/out.txt")" -ge 2 ]' 30 || fail "l2 and l3 were not written"
write_conf 30s lines
reload_sighup
assert_contains "$DAEMON_ERR" "1 open connection(s) carried over"
touch "$T/go"
wait_for '[ "$(lines "$T/out.txt")" -ge 4 ]' 30 || fail "l4 and l5 were not written"
# l1 is still running in the old pipeline: nothing may be acked yet (acks go in order).
[ -s "$T/client.out" ] && fail "acks before l1 was done: $(cat "$T/client.out")"
touch "$T/release"
wait "$client" || fail "client: $(cat "$T/client.out")"
assert_eq "ok ok ok ok ok eof" "$(tr '\n' ' ' <"$T/client.out" | sed 's/ $//')" "acks on the carried-over connection"
sort "$T/out.txt" | tr '\n' ' ' >"$T/got.txt"
assert_eq "l1 l2 l3 l4 l5 " "$(cat "$T/got.txt")" "lines written, each once"

# A framing change while a record is half read: 'a\0b\0c' (one partial line so
# far) then, after the reload to nul framing, '\0': three records a, b, c.
rm -f "$T/go" "$T/client.out"
python3 "$T/client.py" "$port" "$T/go" 'a\x00b\x00c' '\x00' >"$T/client.out" 2>&1 &
client=$!
# The daemon has read the bytes (and searched them for a newline) once the
# connection's receive queue is empty again.
read_all() { ss -tnH state established "( sport = :$port )" | awk '{ n++; q += $1 } END { exit !(n >= 1 && q == 0) }'; }
wait_for read_all 30 || fail "the daemon did not read the partial record"
write_conf 30s nul
reload_sighup
touch "$T/go"
wait "$client" || fail "client (framing): $(cat "$T/client.out")"
assert_eq "ok ok ok eof" "$(tr '\n' ' ' <"$T/client.out" | sed 's/ $//')" "acks after the framing change"
for r in a b c; do
	assert_eq 1 "$(grep -ac "^$r\$" "$T/out.txt")" "record '$r' written once"
done
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 30
assert_exit 0 $? "sluiced after SIGTERM"
check_accounting
exit 0
