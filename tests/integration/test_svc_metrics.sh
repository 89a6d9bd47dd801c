#!/usr/bin/env bash
# The HTTP endpoint: /metrics in valid Prometheus text (a strict parser,
# tests/helpers/promparse.py, and Prometheus's own promtool), with every metric
# SPEC §6 names and one per outcome, each series labelled with the pipeline; /health/live, /health/ready (200 running, 503 while
# draining), /status (the JSON of sluicectl status --json), 404, 405, HEAD,
# garbage requests. A port in use fails the start with 73; a malformed address
# fails --check and the start with 78.
. "$(dirname "$0")/../lib.sh"

CTL=$(dirname "$SLUICED")/sluicectl
SOCK=$T/ctl.sock
get() { python3 "$PYHELPERS/http_get.py" "http://127.0.0.1:$PORT$1" "${@:2}"; }
prom() { python3 "$PYHELPERS/promparse.py" get "$T/m.txt" "$@"; }
scrape() {
	assert_eq "200 text/plain; version=0.0.4; charset=utf-8" "$(get /metrics "$T/m.txt")" "GET /metrics"
	python3 "$PYHELPERS/promparse.py" check "$T/m.txt" >/dev/null 2>"$T/prom.err" ||
		fail "/metrics is not valid Prometheus text: $(cat "$T/prom.err")"
	promtool check metrics <"$T/m.txt" >"$T/promtool.out" 2>&1 ||
		fail "promtool check metrics: $(cat "$T/promtool.out")"
	# Every sample carries the pipeline's name.
	! grep -v '^#' "$T/m.txt" | grep -v 'pipeline="metrics"' | grep -q . ||
		fail "samples without pipeline=\"metrics\": $(grep -v '^#' "$T/m.txt" | grep -v 'pipeline="metrics"' | head -3)"
}
metrics_port() { grep -ao 'listening on http://127.0.0.1:[0-9]*' "$DAEMON_ERR" | head -n 1 | grep -o '[0-9]*$'; }

python3 "$PYHELPERS/promparse.py" selftest >/dev/null || fail "the Prometheus parser accepts bad input"

# Items wait while $T/gate exists, so a drain can be held open.
cat >"$T/c.yaml" <<YAML
name: metrics
shutdown: { grace: 120s }
sources:
  - { name: gen, type: generate, interval: 20ms, template: "a-{seq}" }
stages:
  - name: work
    workers: 3
    queue: { capacity: 50 }
    exec: { argv: [sh, -c, 'while [ -e "\$0" ]; do sleep 0.05; done; echo "\$1"', "$T/gate", "{}"] }
  - { name: pass, builtin: { op: passthrough } }
sinks:
  - { name: out, type: file, path: $T/out.txt }
metrics: { listen: "127.0.0.1:0" }
control: { socket: $SOCK }
YAML
start_daemon "$T/c.yaml"
wait_for '[ -n "$(metrics_port)" ]' 30 || fail "no metrics port in the log"
PORT=$(metrics_port)

wait_for '[ "$(lines "$T/out.txt")" -ge 5 ]' 60 || fail "no items reached the sink"
scrape
for fam in sluice_items_total sluice_queue_items sluice_queue_bytes sluice_queue_capacity_items \
	sluice_inflight sluice_workers sluice_item_duration_seconds sluice_source_paused_seconds_total \
	sluice_retries_total sluice_restarts_total sluice_source_rejected_total \
	sluice_source_skipped_total sluice_dead_lettered_total sluice_sink_failed_total \
	sluice_sink_pending_records sluice_sink_up sluice_log_dropped_total; do
	grep -aq "^# TYPE $fam " "$T/m.txt" || fail "/metrics has no family $fam"
done
assert_eq histogram "$(awk '$1 == "#" && $2 == "TYPE" && $3 == "sluice_item_duration_seconds" { print $4 }' "$T/m.txt")" "type of sluice_item_duration_seconds"
assert_eq 50 "$(prom sluice_queue_capacity_items queue=work)" "capacity of the queue of work"
assert_eq 3 "$(prom sluice_workers stage=work)" "sluice_workers of work"
assert_ge "$(prom sluice_items_total stage=work outcome=ok)" 5 "items ok in work"
assert_ge "$(prom sluice_item_duration_seconds_count stage=work)" 5 "durations counted in work"
assert_eq 0 "$(prom sluice_items_total stage=work outcome=failed)" "items failed in work"
prom sluice_source_paused_seconds_total source=gen >/dev/null || fail "no sluice_source_paused_seconds_total for gen"
assert_eq 1 "$(prom sluice_up pipeline=metrics)" "sluice_up while running"
if command -v promtool >/dev/null; then
	promtool check metrics <"$T/m.txt" || fail "promtool check metrics failed"
fi

# /status is what sluicectl status --json says (same shape, same names).
assert_eq "200 application/json" "$(get /status "$T/s.json")" "GET /status"
"$CTL" -s "$SOCK" status --json >"$T/c.json" || fail "sluicectl status --json: exit $?"
python3 - "$T/s.json" "$T/c.json" <<'PY' || fail "/status and sluicectl status --json differ in shape"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
def shape(v):
    if isinstance(v, dict):
        return {k: shape(x) for k, x in v.items() if k != "name"} | {"name": v.get("name")}
    if isinstance(v, list):
        return [shape(x) for x in v]
    return type(v).__name__
assert shape(a) == shape(b), (shape(a), shape(b))
assert a["pipeline"] == "metrics" and a["state"] == "running"
PY

assert_eq "200 text/plain; charset=utf-8" "$(get /health/live "$T/b")" "GET /health/live"
assert_eq "ok" "$(cat "$T/b")" "body of /health/live"
assert_eq "200 text/plain; charset=utf-8" "$(get /health/ready "$T/b")" "GET /health/ready while running"
assert_eq "200 text/plain; version=0.0.4; charset=utf-8" "$(get '/metrics?x=1')" "GET /metrics?x=1"
assert_eq "404 text/plain; charset=utf-8" "$(get /nope)" "GET /nope"
assert_eq "404 text/plain; charset=utf-8" "$(get /)" "GET /"
assert_eq "405 text/plain; charset=utf-8" "$(get /metrics --method POST)" "POST /metrics"
assert_eq "405 text/plain; charset=utf-8" "$(get /health/ready --method DELETE)" "DELETE /health/ready"
assert_eq "200 text/plain; version=0.0.4; charset=utf-8" "$(get /metrics "$T/h" --method HEAD)" "HEAD /metrics"
assert_eq 0 "$(wc -c <"$T/h" | tr -d ' ')" "body of HEAD /metrics"
for req in 'GARBAGE\r\n\r\n' '\x00\x01\x02\r\n\r\n' "GET /metrics HTTP/1.1\\r\\nX: $(printf 'a%.0s' $(seq 1 10000))\\r\\n\\r\\n"; do
	case $(get / --raw "$req") in
	"HTTP/1.1 4"* | "HTTP/1.0 4"* | closed) ;;
	*) fail "a garbage request got '$(get / --raw "$req")'" ;;
	esac
done
scrape

# A second daemon on the same port: 73, with the reason.
sed -e "s|127.0.0.1:0|127.0.0.1:$PORT|" -e "s|$T/out.txt|$T/out2.txt|" -e "/^control:/d" "$T/c.yaml" >"$T/c2.yaml"
first=$DAEMON_PID
first_err=$DAEMON_ERR
start_daemon "$T/c2.yaml"
wait_exit "$DAEMON_PID" 30
assert_exit 73 $? "a second daemon on a port in use"
assert_contains "$DAEMON_ERR" "metrics: cannot listen on 127.0.0.1 port $PORT: Address already in use"
DAEMON_PID=$first
DAEMON_ERR=$first_err

# Malformed addresses: 78 from --check and from a start.
for bad in localhost 127.0.0.1 "[::1" "127.0.0.1:99999" ":9464" "::1:9464" "127.0.0.1:http"; do
	sed -e "s|127.0.0.1:0|$bad|" -e "s|$T/out.txt|$T/out3.txt|" -e "/^control:/d" "$T/c.yaml" >"$T/c3.yaml"
	"$SLUICED" --check -c "$T/c3.yaml" >/dev/null 2>"$T/e.txt"
	assert_exit 78 $? "sluiced --check with metrics.listen '$bad'"
	assert_contains "$T/e.txt" "metrics.listen '$bad'"
	"$SLUICED" -c "$T/c3.yaml" >/dev/null 2>"$T/e.txt"
	assert_exit 78 $? "sluiced with metrics.listen '$bad'"
done

# Draining: /health/ready says 503 (and sluice_up 0) while /health/live stays 200.
touch "$T/gate"
wait_for '[ "$(get /metrics "$T/m.txt" >/dev/null; prom sluice_inflight stage=work)" -ge 1 ]' 30 ||
	fail "no item in flight behind the gate"
kill -TERM "$DAEMON_PID"
wait_for '[ "$(get /health/ready "$T/b")" = "503 text/plain; charset=utf-8" ]' 30 ||
	fail "/health/ready did not turn 503 while draining"
assert_eq "not ready: draining" "$(cat "$T/b")" "body of /health/ready while draining"
assert_eq "200 text/plain; charset=utf-8" "$(get /health/live)" "/health/live while draining"
scrape
assert_eq 0 "$(prom sluice_up pipeline=metrics)" "sluice_up while draining"
rm -f "$T/gate"
wait_exit "$DAEMON_PID" 120
assert_exit 0 $? "sluiced after the drain"
check_accounting
assert_eq "$(summary_field source gen items)" "$(lines "$T/out.txt")" "every item read reached the sink"
get /health/live 2>/dev/null
assert_exit 2 $? "the HTTP port after exit (closed)"
assert_no_leftovers 10
exit 0
