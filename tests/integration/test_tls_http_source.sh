#!/usr/bin/env bash
# An http source with a tls: block: curl posts over https (202, items in the file
# sink); a plain http request on the same port is refused (logged). With ca +
# verify, client certificates are required: curl with one gets 200 (ack), curl
# without one is refused and logged.
. "$(dirname "$0")/../lib.sh"
. "$PYHELPERS/tls_certs.sh"
require_tool openssl openssl
require_tool curl curl
tls_certs "$T/c"
port=$(python3 "$PYHELPERS/net_port.py")
c() { curl -sS --max-time 30 --cacert "$T/c/ca.pem" "$@"; }

# --- https, no client certificates.
cat >"$T/a.yaml" <<YAML
sources:
  - name: web
    type: http
    listen: "127.0.0.1:$port"
    path: /in
    tls: { cert: $T/c/server.pem, key: $T/c/server.key }
sinks:
  - { name: out, type: file, path: $T/a.out }
YAML
start_daemon "$T/a.yaml"
wait_for 'grep -q "listening on https://127.0.0.1:$port/in" "$DAEMON_ERR"' 30 || fail "not listening"
code=$(c -o /dev/null -w '%{http_code}' --data-binary 'over-https' "https://localhost:$port/in")
assert_eq 202 "$code" "a POST over https"
curl -sS --max-time 30 -o /dev/null --data-binary 'plain' "http://127.0.0.1:$port/in" 2>/dev/null &&
	fail "a plain http request was answered"
wait_for 'grep -q "TLS handshake with 127.0.0.1:[0-9]* failed" "$DAEMON_ERR"' 30 ||
	fail "no log line for the plain http request"
wait_for '[ "$(lines "$T/a.out")" -ge 1 ]' 30 || fail "the item did not arrive"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "sluiced after SIGTERM"
echo over-https >"$T/a.want"
assert_file_eq "$T/a.want" "$T/a.out" "only the https request's item"

# --- client certificates required.
cat >"$T/b.yaml" <<YAML
sources:
  - name: web
    type: http
    listen: "127.0.0.1:$port"
    ack: true
    tls: { cert: $T/c/server.pem, key: $T/c/server.key, ca: $T/c/ca.pem, verify: true }
sinks:
  - { name: out, type: file, path: $T/b.out }
YAML
start_daemon "$T/b.yaml"
wait_for 'grep -q "listening on https://127.0.0.1:$port/" "$DAEMON_ERR"' 30 || fail "not listening"
c -o /dev/null --data-binary 'anonymous' "https://127.0.0.1:$port/" 2>/dev/null &&
	fail "a client without a certificate was answered"
wait_for 'grep -q "TLS handshake with 127.0.0.1:[0-9]* failed" "$DAEMON_ERR"' 30 ||
	fail "no log line for the client without a certificate"
code=$(c -o /dev/null -w '%{http_code}' --cert "$T/c/client.pem" --key "$T/c/client.key" \
	--data-binary 'with-cert' "https://127.0.0.1:$port/")
assert_eq 200 "$code" "a POST with a client certificate (ack)"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "sluiced after SIGTERM"
echo with-cert >"$T/b.want"
assert_file_eq "$T/b.want" "$T/b.out" "only the client with a certificate got through"
