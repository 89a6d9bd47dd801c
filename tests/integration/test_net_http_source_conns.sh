#!/usr/bin/env bash
# The http source's max_connections: with max_connections: 2, 16 clients each
# sending most of a 4 MB body: the daemon holds 2 connections, the other 14 wait
# in the kernel's accept queue (the listener stops accepting; a log line says
# so), and its memory holds about 2 bodies, not 16. Once the clients go, it
# accepts again: a new request is taken (202).
. "$(dirname "$0")/../lib.sh"

h() { timeout -k 5 120 python3 "$PYHELPERS/net_http.py" "$@"; }
port=$(python3 "$PYHELPERS/net_port.py" 1)
cat >"$T/c.yaml" <<YAML
sources:
  - { name: web, type: http, listen: "127.0.0.1:$port", path: /in, max_body: 4MiB, max_connections: 2 }
stages:
  - { name: pass, builtin: { op: passthrough } }
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML
"$SLUICED" --check -c "$T/c.yaml" >"$T/check.out" 2>&1 || fail "--check: $(cat "$T/check.out")"
grep -Eq '^ +max_connections: 2$' "$T/check.out" || fail "--check does not print max_connections: 2"

# hold.py PORT N LEN: N connections, each sending the headers of a POST with
# Content-Length LEN and all of its body but 1000 bytes; prints "sent" for each
# whose bytes all went out, then holds them open until killed.
cat >"$T/hold.py" <<'PY'
import socket, sys, threading, time
port, n, length = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def one():
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /in HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % length)
    s.sendall(b"x" * (length - 1000))
    print("sent", flush=True)
    time.sleep(3600)
socks = [threading.Thread(target=one, daemon=True) for _ in range(n)]
for t in socks:
    t.start()
time.sleep(3600)
PY

start_daemon "$T/c.yaml"
wait_for 'grep -q "listening on http" "$DAEMON_ERR"' 30 || fail "the daemon did not start listening"
rss0=$(rss_kb "$DAEMON_PID")
python3 "$T/hold.py" "$port" 16 4000000 >"$T/hold.out" 2>&1 &
holder=$!
# The accept queue of the listening socket (ss: Recv-Q of a LISTEN socket).
backlog() { ss -ltnH "sport = :$port" | awk '{ print $2; exit }'; }
wait_for '[ "$(backlog)" = 14 ]' 60 || fail "accept queue: expected 14 waiting connections, got '$(backlog)'"
wait_for 'grep -q "max_connections (2) are open" "$DAEMON_ERR"' 30 || fail "no log line for the cap"
wait_for '[ "$(grep -c sent "$T/hold.out")" -ge 2 ]' 60 || fail "the 2 accepted clients could not send their bodies"
rss1=$(rss_kb "$DAEMON_PID")
note "RSS $rss0 KiB before, $rss1 KiB with 2 bodies of ~4 MB held (16 clients)"
assert_le "$((rss1 - rss0))" "$((24 * 1024 * SCALE))" "KiB the daemon grew by (2 bodies of 4 MB, not 16)"
# A held client may finish and free a slot under load; most still wait.
assert_ge "$(backlog)" 10 "connections still waiting in the accept queue"

kill "$holder"
wait "$holder" 2>/dev/null
wait_for '[ "$(backlog)" = 0 ]' 60 || fail "the waiting connections were not accepted after the clients left"
assert_eq "202" "$(h post "http://127.0.0.1:$port/in" "after" | cut -d' ' -f1)" "a request once the clients are gone"
wait_for '[ "$(lines "$T/out.txt")" -ge 1 ]' 30 || fail "the request's item was not written"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "sluiced"
check_accounting
assert_eq after "$(cat "$T/out.txt")" "the item written"
exit 0
