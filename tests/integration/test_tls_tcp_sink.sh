#!/usr/bin/env bash
# The tcp sink with a tls: block, to a Python ssl server (net_server.py --tls):
# every record delivered once, in order, through the relay; an expired server
# certificate and a wrong server_name are connect errors with their reason,
# retried with the backoff (records held, nothing delivered in clear).
. "$(dirname "$0")/../lib.sh"
. "$PYHELPERS/tls_certs.sh"
require_tool openssl openssl
tls_certs "$T/c"
port=$(python3 "$PYHELPERS/net_port.py")
srv_start() { # OUT CERT
	python3 "$PYHELPERS/net_server.py" "127.0.0.1:$port" "$1" --tls "$2:$T/c/server.key" \
		>"$T/server.log" 2>&1 &
	SRV=$!
	wait_for 'grep -q ready "$T/server.log"' 30 || fail "the test server did not start"
}
srv_stop() {
	kill -KILL "$SRV" 2>/dev/null
	wait "$SRV" 2>/dev/null
	return 0
}
sink_yaml() { # FILE COUNT TLS-FLOW-MAPPING
	cat >"$1" <<YAML
sources:
  - { name: gen, type: generate, count: $2, template: "rec-{seq}" }
sinks:
  - name: t
    type: tcp
    address: "localhost:$port"
    backoff: 50ms
    max_backoff: 200ms
    tls: $3
shutdown: { grace: 1s }
YAML
}

# --- delivered, verified by name.
srv_start "$T/a.out" "$T/c/server.pem"
sink_yaml "$T/a.yaml" 20000 "{ ca: $T/c/ca.pem }"
run_daemon "$T/a.yaml"
assert_exit 0 $? "sluiced (tcp sink over TLS)"
seq -f 'rec-%g' 1 20000 >"$T/want"
wait_for '[ "$(lines "$T/a.out")" -ge 20000 ]' 30 || fail "only $(lines "$T/a.out") records arrived"
assert_file_eq "$T/want" "$T/a.out" "every record once, in order, over TLS"
assert_eq 20000 "$(summary_field sink t written)" "written"
srv_stop

# --- an expired certificate; then a wrong name.
srv_start "$T/b.out" "$T/c/expired.pem"
sink_yaml "$T/b.yaml" 5 "{ ca: $T/c/ca.pem }"
start_daemon "$T/b.yaml"
wait_for 'grep -q "TLS handshake failed: certificate has expired" "$DAEMON_ERR"' 30 ||
	fail "no 'expired' in the sink's log"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
srv_stop
srv_start "$T/b.out" "$T/c/server.pem"
sink_yaml "$T/b.yaml" 5 "{ ca: $T/c/ca.pem, server_name: wrong.example }"
start_daemon "$T/b.yaml"
wait_for 'grep -q "TLS handshake failed: name mismatch" "$DAEMON_ERR"' 30 ||
	fail "no 'name mismatch' in the sink's log"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
srv_stop
assert_eq 0 "$(lines "$T/b.out")" "nothing delivered to a server the sink refused"
