#!/usr/bin/env bash
# The http sink over https to a Python ssl server: records delivered (verified by
# name and by IP address); a wrong CA ("unknown CA" logged, nothing lost: once the
# CA file holds the right CA and the daemon reloads, they are delivered); a wrong
# server_name ("name mismatch"); an expired server certificate ("expired");
# verify: false (a warning at start, records delivered).
. "$(dirname "$0")/../lib.sh"
. "$PYHELPERS/tls_certs.sh"
require_tool openssl openssl
tls_certs "$T/c"

port=$(python3 "$PYHELPERS/net_port.py")
srv_start() { # LOG CERT [OPTIONS]
	local log=$1 cert=$2
	shift 2
	python3 "$PYHELPERS/net_http.py" serve "$port" "$log" --tls "$cert:$T/c/server.key" "$@" \
		>"$T/server.log" 2>&1 &
	SRV=$!
	wait_for 'grep -q ready "$T/server.log"' 30 || fail "the test server did not start"
}
srv_stop() {
	kill -KILL "$SRV" 2>/dev/null
	wait "$SRV" 2>/dev/null
	return 0
}
sink_yaml() { # FILE URL COUNT TLS-FLOW-MAPPING
	cat >"$1" <<YAML
sources:
  - { name: gen, type: generate, count: $3, template: "rec-{seq}" }
sinks:
  - name: web
    type: http
    url: "$2"
    batch: { max_items: 10, timeout: 100ms }
    backoff: 50ms
    max_backoff: 200ms
    ${4:+tls: $4}
shutdown: { grace: 1s }
YAML
}

# --- delivered, by name (localhost) with the test CA.
srv_start "$T/a.log" "$T/c/server.pem"
sink_yaml "$T/a.yaml" "https://localhost:$port/sink" 25 "{ ca: $T/c/ca.pem }"
run_daemon "$T/a.yaml"
assert_exit 0 $? "sluiced (https by name)"
seq -f 'rec-%g' 1 25 >"$T/want"
assert_file_eq "$T/want" "$T/a.log" "records delivered over https"

# --- a wrong CA: refused with the reason, held; the right CA after a reload: delivered.
cp "$T/c/other-ca.pem" "$T/trust.pem"
sink_yaml "$T/b.yaml" "https://127.0.0.1:$port/sink" 5 "{ ca: $T/trust.pem }"
start_daemon "$T/b.yaml"
wait_for 'grep -q "TLS handshake failed: unknown CA" "$DAEMON_ERR"' 30 ||
	fail "no 'unknown CA' in the sink's log"
grep "unknown CA" "$DAEMON_ERR" | head -n 1 | grep -q "https://127.0.0.1:$port/sink" ||
	fail "the log line does not name the server"
assert_eq 25 "$(lines "$T/a.log")" "nothing delivered to a server the sink does not trust"
cp "$T/c/ca.pem" "$T/trust.pem"
send_signal "$DAEMON_PID" HUP
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "sluiced (the CA fixed and reloaded)"
assert_eq 30 "$(lines "$T/a.log")" "the held records, delivered once the CA is right"
assert_eq 5 "$(summary_field sink web written)" "written after the CA was fixed"

# --- a wrong name.
sink_yaml "$T/c.yaml" "https://127.0.0.1:$port/sink" 5 \
	"{ ca: $T/c/ca.pem, server_name: wrong.example }"
start_daemon "$T/c.yaml"
wait_for 'grep -q "TLS handshake failed: name mismatch" "$DAEMON_ERR"' 30 ||
	fail "no 'name mismatch' in the sink's log"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_eq 30 "$(lines "$T/a.log")" "nothing delivered to a server of another name"
srv_stop

# --- an expired server certificate.
srv_start "$T/d.log" "$T/c/expired.pem"
sink_yaml "$T/d.yaml" "https://localhost:$port/sink" 5 "{ ca: $T/c/ca.pem }"
start_daemon "$T/d.yaml"
wait_for 'grep -q "TLS handshake failed: certificate has expired" "$DAEMON_ERR"' 30 ||
	fail "no 'expired' in the sink's log"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_eq 0 "$(lines "$T/d.log")" "nothing delivered to a server with an expired certificate"

# --- verify: false: a warning at start; delivered whatever the certificate.
sink_yaml "$T/e.yaml" "https://localhost:$port/sink" 5 "{ verify: false }"
run_daemon "$T/e.yaml"
assert_exit 0 $? "sluiced (verify: false)"
assert_contains "$DAEMON_ERR" "is not verified (tls.verify: false)" "the warning at start"
assert_eq 5 "$(lines "$T/d.log")" "delivered without verification"
srv_stop
