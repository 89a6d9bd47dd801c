#!/usr/bin/env bash
# The http stage over https to a Python ssl server (results are the answers; a
# server the stage does not trust fails the item with "unknown CA"), and the
# metrics endpoint over https (curl --cacert; promtool check metrics when
# installed; a plain http request is not answered).
. "$(dirname "$0")/../lib.sh"
. "$PYHELPERS/tls_certs.sh"
require_tool openssl openssl
require_tool curl curl
tls_certs "$T/c"

port=$(python3 "$PYHELPERS/net_port.py")
hport=$(python3 "$PYHELPERS/net_port.py")
python3 "$PYHELPERS/net_http.py" serve "$port" "$T/srv.log" --tls "$T/c/server.pem:$T/c/server.key" \
	>"$T/server.log" 2>&1 &
SRV=$!
wait_for 'grep -q ready "$T/server.log"' 30 || fail "the test server did not start"

# --- the stage: verified by name; metrics over https while it runs.
cat >"$T/a.yaml" <<YAML
metrics:
  listen: "127.0.0.1:0"
  tls: { cert: $T/c/server.pem, key: $T/c/server.key }
sources:
  - { name: gen, type: generate, count: 3, template: "x{seq}" }
  - { name: hold, type: tcp, listen: "127.0.0.1:$hport" }
stages:
  - name: fetch
    http: { url: "https://localhost:$port/ok/{}" }
    tls: { ca: $T/c/ca.pem }
    retry: { attempts: 3, backoff: 50ms }
sinks:
  - { name: out, type: file, path: $T/a.out }
YAML
start_daemon "$T/a.yaml"
wait_for '[ "$(lines "$T/a.out")" -ge 3 ]' 30 || fail "only $(lines "$T/a.out") of 3 results"
printf 'got x1\ngot x2\ngot x3\n' >"$T/a.want"
sort "$T/a.out" >"$T/a.got"
assert_file_eq "$T/a.want" "$T/a.got" "the answers over https"
mport=$(grep -ao 'listening on https://127.0.0.1:[0-9]*' "$DAEMON_ERR" | head -n 1 | grep -o '[0-9]*$')
[ -n "$mport" ] || fail "the metrics endpoint does not say it serves https"
curl -sS --max-time 30 --cacert "$T/c/ca.pem" "https://localhost:$mport/metrics" >"$T/metrics.txt" ||
	fail "curl over https to the metrics endpoint failed"
assert_contains "$T/metrics.txt" 'sluice_items_total{' "metrics over https"
if command -v promtool >/dev/null; then
	promtool check metrics <"$T/metrics.txt" || fail "promtool check metrics"
fi
curl -sS --max-time 30 -o /dev/null "http://127.0.0.1:$mport/metrics" 2>/dev/null &&
	fail "the metrics endpoint answered plain http"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "sluiced after SIGTERM"

# --- the stage with a CA that did not sign the server's certificate.
cat >"$T/b.yaml" <<YAML
sources:
  - { name: gen, type: generate, count: 2, template: "y{seq}" }
stages:
  - name: fetch
    http: { url: "https://127.0.0.1:$port/ok/{}" }
    tls: { ca: $T/c/other-ca.pem }
    on_failure: dead_letter
sinks:
  - { name: out, type: file, path: $T/b.out }
dead_letter: { type: file, path: $T/dead.jsonl }
YAML
run_daemon "$T/b.yaml"
assert_exit 1 $? "sluiced (items failed)"
assert_eq 0 "$(lines "$T/b.out")" "no result from a server the stage does not trust"
assert_eq 2 "$(lines "$T/dead.jsonl")" "both items dead-lettered"
assert_contains "$T/dead.jsonl" "TLS handshake failed: unknown CA" "the reason in the dead letter"
kill -KILL "$SRV" 2>/dev/null
wait "$SRV" 2>/dev/null
exit 0
