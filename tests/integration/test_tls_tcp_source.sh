#!/usr/bin/env bash
# A tcp source with a tls: block: lines sent through `openssl s_client` arrive in
# the file sink; a plain-text client is refused with a log line naming it; with
# ca + verify a client without a certificate is refused and one with a certificate
# is served; a reload (SIGHUP, same file) makes new connections see a renewed
# certificate (its serial), while the certificate files are read again.
. "$(dirname "$0")/../lib.sh"
. "$PYHELPERS/tls_certs.sh"
require_tool openssl openssl

net() { timeout -k 5 60 python3 "$PYHELPERS/net_client.py" "$@"; }
# s_client: -quiet prints no session noise, -no_ign_eof ends at the end of stdin
# (which also makes it take lines starting with Q, R or K as commands: none here).
tls_send() { # ADDR TEXT [s_client options]
	local addr=$1 text=$2
	shift 2
	printf '%b' "$text" | timeout -k 5 60 openssl s_client -connect "$addr" -quiet \
		-no_ign_eof -verify_return_error -CAfile "$T/c/ca.pem" "$@" >/dev/null 2>&1
}
tls_certs "$T/c"
port=$(python3 "$PYHELPERS/net_port.py")

# --- a key that does not belong to its certificate: a configuration error at load.
cat >"$T/bad.yaml" <<YAML
sources:
  - name: in
    type: tcp
    listen: "127.0.0.1:$port"
    tls: { cert: $T/c/server.pem, key: $T/c/client.key }
sinks:
  - { name: out, type: file, path: $T/bad.out }
YAML
run_daemon "$T/bad.yaml"
assert_exit 78 $? "sluiced with a key of another certificate"
assert_contains "$DAEMON_ERR" \
	"bad.yaml:5:10: TLS key '$T/c/client.key' does not belong to certificate '$T/c/server.pem' (in 'tls' of source 'in')" \
	"the load error, with its position"

# --- lines through TLS; a plain-text client refused.
cp "$T/c/server.pem" "$T/live.pem"
cat >"$T/a.yaml" <<YAML
sources:
  - name: in
    type: tcp
    listen: "127.0.0.1:$port"
    tls: { cert: $T/live.pem, key: $T/c/server.key }
sinks:
  - { name: out, type: file, path: $T/a.out }
YAML
start_daemon "$T/a.yaml"
wait_for 'grep -q "listening on 127.0.0.1:$port" "$DAEMON_ERR"' 30 || fail "not listening"
tls_send "127.0.0.1:$port" 'one\ntwo\nthree\n' || fail "s_client failed"
wait_for '[ "$(lines "$T/a.out")" -ge 3 ]' 30 || fail "only $(lines "$T/a.out") of 3 lines arrived"
printf 'one\ntwo\nthree\n' >"$T/a.want"
assert_file_eq "$T/a.want" "$T/a.out" "the lines sent over TLS"
net send "127.0.0.1:$port" 'plain\n' --wait-close >/dev/null || fail "plain sender"
wait_for 'grep -q "TLS handshake with 127.0.0.1:[0-9]* failed" "$DAEMON_ERR"' 30 ||
	fail "no log line for the plain-text client"
assert_eq 3 "$(lines "$T/a.out")" "the plain-text client's line is not an item"
# 20 more failed handshakes (each handled before the daemon closes its connection):
# at most one log line per 10 s, not one each.
for i in $(seq 1 20); do
	net send "127.0.0.1:$port" 'plain\n' --wait-close >/dev/null || fail "plain sender $i"
done
n=$(grep -c "TLS handshake with 127.0.0.1:[0-9]* failed" "$DAEMON_ERR")
[ "$n" -le 3 ] || fail "$n log lines for 21 failed handshakes (at most one per 10 s)"

# --- reload: a renewed certificate (new serial, same path) serves new connections.
assert_eq "serial=03E9" "$(tls_serial "127.0.0.1:$port")" "the first certificate's serial"
(cd "$T/c" && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 4242 \
	-days 30 -extfile server.ext -out "$T/renewed.pem" 2>/dev/null) || fail "renewing"
cp "$T/renewed.pem" "$T/live.pem"
assert_eq "serial=03E9" "$(tls_serial "127.0.0.1:$port")" "before the reload, the old certificate"
send_signal "$DAEMON_PID" HUP
wait_for 'grep -q "reload: reloaded" "$DAEMON_ERR"' 30 || fail "the reload was not applied"
assert_eq "serial=1092" "$(tls_serial "127.0.0.1:$port")" "after the reload, the renewed certificate"
grep -q "TLS certificates read again" "$DAEMON_ERR" || fail "no log line for the certificates read again"
tls_send "127.0.0.1:$port" 'four\n' || fail "s_client after the reload failed"
wait_for '[ "$(lines "$T/a.out")" -ge 4 ]' 30 || fail "the line sent after the reload did not arrive"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "sluiced after SIGTERM"
assert_eq 4 "$(summary_field source in items)" "tcp source items"

# --- client certificates: required with ca + verify.
cat >"$T/b.yaml" <<YAML
sources:
  - name: in
    type: tcp
    listen: "127.0.0.1:$port"
    tls: { cert: $T/c/server.pem, key: $T/c/server.key, ca: $T/c/ca.pem, verify: true }
sinks:
  - { name: out, type: file, path: $T/b.out }
YAML
start_daemon "$T/b.yaml"
wait_for 'grep -q "listening on 127.0.0.1:$port" "$DAEMON_ERR"' 30 || fail "not listening"
tls_send "127.0.0.1:$port" 'anonymous\n'
wait_for 'grep -q "TLS handshake with 127.0.0.1:[0-9]* failed" "$DAEMON_ERR"' 30 ||
	fail "no log line for the client without a certificate"
tls_send "127.0.0.1:$port" 'with-cert\n' -cert "$T/c/client.pem" -key "$T/c/client.key" ||
	fail "the client with a certificate failed"
wait_for '[ "$(lines "$T/b.out")" -ge 1 ]' 30 || fail "the client with a certificate was not served"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "sluiced after SIGTERM"
echo with-cert >"$T/b.want"
assert_file_eq "$T/b.want" "$T/b.out" "only the client with a certificate got through"
