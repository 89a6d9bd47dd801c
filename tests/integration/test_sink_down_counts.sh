#!/usr/bin/env bash
# Live counts while a sink is down: an http sink whose server never came up
# has written nothing, and every view says so (sluice_sink_records_total,
# sluicectl status, the summary); it is not up (sluice_sink_up 0, the status's
# "up"), so /health/ready says 503. A tcp sink with no listener: the same.
# Once the server is there, the records are written and the sink is up again.
. "$(dirname "$0")/../lib.sh"

read -r hport tport <<<"$(python3 "$PYHELPERS/net_port.py" 2 | tr '\n' ' ')"
CTL=$(dirname "$SLUICED")/sluicectl
SOCK=$T/ctl.sock
ctl() { "$CTL" -s "$SOCK" "$@"; }
jget() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }
metrics_port() { grep -ao 'listening on http://127.0.0.1:[0-9]*' "$DAEMON_ERR" 2>/dev/null | head -n 1 | grep -o '[0-9]*$'; }
get() { python3 "$PYHELPERS/http_get.py" "http://127.0.0.1:$PORT$1" "${@:2}"; }
prom() { get /metrics "$T/m.txt" >/dev/null && python3 "$PYHELPERS/promparse.py" get "$T/m.txt" "$@"; }

cat >"$T/c.yaml" <<YAML
control: { socket: $SOCK }
metrics: { listen: "127.0.0.1:0" }
shutdown: { grace: 500ms, kill_after: 1s }
sources:
  - { name: gen, type: generate, count: 5, template: "rec-{seq}" }
  - { name: more, type: generate, interval: 1s, template: "tick-{seq}" }
sinks:
  - name: web
    type: http
    url: "http://127.0.0.1:$hport/sink"
    backoff: 50ms
    max_backoff: 200ms
  - { name: tcp, type: tcp, address: "127.0.0.1:$tport", backoff: 50ms, max_backoff: 200ms }
YAML
start_daemon "$T/c.yaml"
wait_for '[ -S "$SOCK" ] && [ -n "$(metrics_port)" ]' 30 || fail "no control socket / metrics port"
PORT=$(metrics_port)
# The 5 records are read and in the sinks' hands (nothing queued).
wait_for '[ "$(prom sluice_source_items_total source=gen)" = 5 ] && [ -z "$(awk "/^sluice_queue_items/ && \$2 != 0" "$T/m.txt")" ]' 30 ||
	fail "the 5 records did not reach the sinks"
assert_eq 0 "$(prom sluice_sink_records_total sink=web)" "sluice_sink_records_total{sink=web} (no server)"
assert_eq 0 "$(prom sluice_sink_records_total sink=tcp)" "sluice_sink_records_total{sink=tcp} (no listener)"
wait_for '[ "$(prom sluice_sink_up sink=web)" = 0 ] && [ "$(prom sluice_sink_up sink=tcp)" = 0 ]' 30 ||
	fail "the sinks never showed as down: $(grep -a sluice_sink_up "$T/m.txt")"
ctl status --json >"$T/st.json" || fail "sluicectl status --json failed"
web() { jget "[s for s in d['sinks'] if s['name'] == 'web'][0]['$1']" <"$T/st.json"; }
assert_eq 0 "$(web written)" "sluicectl status --json: web written"
assert_eq False "$(web up)" "sluicectl status --json: web up"
ctl status >"$T/st.txt" || fail "sluicectl status failed"
grep -aEq '^web +no +0$' "$T/st.txt" || fail "sluicectl status: web is not shown down with 0 written: $(grep -a '^web' "$T/st.txt")"
assert_eq "503 text/plain; charset=utf-8" "$(get /health/ready "$T/ready.txt")" "/health/ready with the sinks down"
assert_contains "$T/ready.txt" "cannot write" "/health/ready's reason"

# The servers come up: every record is written, the sinks are up, ready again.
python3 "$PYHELPERS/net_http.py" serve "$hport" "$T/web.log" >"$T/server.log" 2>&1 &
SRV=$!
socat -u "TCP-LISTEN:$tport,bind=127.0.0.1,reuseaddr" "OPEN:$T/tcp.out,creat,append" &
TCPSRV=$!
wait_for '[ "$(prom sluice_sink_up sink=web)" = 1 ] && [ "$(prom sluice_sink_up sink=tcp)" = 1 ]' 60 ||
	fail "the sinks did not come up: $(grep -a sluice_sink_up "$T/m.txt")"
wait_for '[ "$(prom sluice_sink_records_total sink=web)" -ge 5 ]' 60 || fail "web did not write the records"
wait_for '[ "$(get /health/ready)" = "200 text/plain; charset=utf-8" ]' 30 || fail "not ready once the sinks are up"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "sluiced (SIGTERM, sinks up)"
check_accounting
w=$(summary_field sink web written)
assert_ge "$w" 5 "summary: web written"
assert_eq "$w" "$(grep -c . "$T/web.log")" "summary: web written = records the server got"
{ kill "$SRV" "$TCPSRV"; wait "$SRV" "$TCPSRV"; } 2>/dev/null
exit 0
