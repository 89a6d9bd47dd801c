#!/usr/bin/env bash
# The http stage against python3 -m http.server, an HTTP/1.0 server that closes
# the connection after each answer: 60 GETs with 8 workers all succeed. A
# request that fails on a reused connection before any byte of the answer
# arrived goes out once more on a new connection, as curl does; it is not an
# attempt of the stage's (attempts: 1, and the joblog says 1 attempt each).
# A request whose answer had begun when the connection closed is not resent.
. "$(dirname "$0")/../lib.sh"

read -r port port2 < <(python3 "$PYHELPERS/net_port.py" 2 | tr '\n' ' ')
mkdir "$T/www"
for i in $(seq 1 60); do echo "file $i" >"$T/www/f$i"; echo "f$i"; done >"$T/in.txt"
(cd "$T/www" && exec python3 -m http.server --bind 127.0.0.1 "$port") >"$T/server.log" 2>&1 &
wait_for "(echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null" 30 || fail "python3 -m http.server did not start"

cat >"$T/a.yaml" <<YAML
joblog: $T/joblog
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - { name: get, workers: 8, http: { url: "http://127.0.0.1:$port/{}" } }
sinks:
  - { name: out, type: file, path: $T/a.out }
YAML
run_daemon "$T/a.yaml"
assert_exit 0 $? "sluiced (60 GETs against python3 -m http.server)"
check_accounting
assert_eq 60 "$(summary_field get ok)" "items ok"
sed 's/^f/file /' "$T/in.txt" | sort >"$T/want"
sort "$T/a.out" >"$T/got"
assert_file_eq "$T/want" "$T/got" "the 60 files' contents"
assert_eq 60 "$(awk -F'\t' 'NR > 1 && $7 == 1' "$T/joblog" | wc -l)" "joblog lines with 1 attempt"

# A keep-alive server whose answer to the second request on a connection stops
# after a few bytes: that item fails (the answer had begun); it is not resent.
cat >"$T/partial.py" <<'PY'
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    n = 0
    while True:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
        if b"\r\n\r\n" not in data:
            break
        n += 1
        print("request", n, flush=True)
        if n == 1:
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
        else:
            c.sendall(b"HTTP/1.1 2")
            break
    c.close()
PY
python3 "$T/partial.py" "$port2" >"$T/partial.log" 2>&1 &
wait_for 'grep -q ready "$T/partial.log"' 30 || fail "the partial-answer server did not start"
cat >"$T/p.yaml" <<YAML
sources:
  - { name: g, type: generate, count: 2 }
stages:
  - { name: get, http: { url: "http://127.0.0.1:$port2/x" } }
sinks:
  - { name: out, type: file, path: $T/p.out }
YAML
run_daemon "$T/p.yaml"
assert_exit 1 $? "sluiced (an answer cut short on a reused connection)"
check_accounting
assert_eq 1 "$(summary_field get ok)" "partial: items ok"
assert_eq 1 "$(summary_field get failed)" "partial: items failed"
assert_eq 2 "$(grep -c '^request' "$T/partial.log")" "requests the server got (the cut-short one not resent)"
exit 0
