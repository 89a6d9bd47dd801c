#!/usr/bin/env bash
# The http sink against a local server: batches (newline-joined, at most
# max_items), 503s retried until they pass (nothing lost, nothing twice), 400s
# failed for good (counted, reported as HTTP 400, dead-lettered), a server that
# is down at the start and comes up later, and a request timeout (sent again:
# at-least-once).
. "$(dirname "$0")/../lib.sh"

port=$(python3 "$PYHELPERS/net_port.py")
srv_start() { # LOG [OPTIONS]
	python3 "$PYHELPERS/net_http.py" serve "$port" "$@" >"$T/server.log" 2>&1 &
	SRV=$!
	wait_for 'grep -q ready "$T/server.log"' 30 || fail "the test server did not start"
}
srv_stop() { { kill -KILL "$SRV" && wait "$SRV"; } 2>/dev/null; }

# --- batches, and 503s retried.
srv_start "$T/a.log" --fail-first 3
cat >"$T/a.yaml" <<YAML
sources:
  - { name: gen, type: generate, count: 250, template: "rec-{seq}" }
sinks:
  - name: web
    type: http
    url: "http://127.0.0.1:$port/sink"
    headers: { X-Pipeline: test }
    batch: { max_items: 100, timeout: 200ms }
    backoff: 20ms
    max_backoff: 100ms
YAML
run_daemon "$T/a.yaml"
assert_exit 0 $? "sluiced (batches, 503s)"
check_accounting
seq -f 'rec-%g' 1 250 >"$T/want"
assert_file_eq "$T/want" "$T/a.log" "records, in order, once, across 503s"
assert_eq 250 "$(summary_field sink web written)" "written"
assert_contains "$DAEMON_ERR" "HTTP 503" "log of the retried answers"
n=$(cat "$T/a.log.count")
assert_ge "$n" 6 "requests (3 answered 503, then at least 3 batches)"
srv_stop

# --- 400s: failed for good, dead-lettered; the rest goes on.
srv_start "$T/b.log" --reject bad
cat >"$T/b.yaml" <<YAML
sources:
  - { name: gen, type: generate, count: 10, template: "{seq}" }
stages:
  - { name: mark, exec: { argv: [sh, -c, 'case "\$1" in 3|7) echo "bad-\$1";; *) echo "ok-\$1";; esac', sh, "{}"] } }
sinks:
  - { name: web, type: http, url: "http://127.0.0.1:$port/sink" }
dead_letter: { type: file, path: $T/dead.jsonl }
YAML
run_daemon "$T/b.yaml"
assert_exit 1 $? "sluiced (two records refused)"
check_accounting
printf 'ok-%s\n' 1 2 4 5 6 8 9 10 >"$T/want"
assert_file_eq "$T/want" "$T/b.log" "records stored"
assert_eq 8 "$(summary_field sink web written)" "written"
assert_eq 2 "$(summary_field sink web failed)" "failed"
assert_eq 2 "$(jsonl "$T/dead.jsonl" count)" "dead letters"
assert_eq "http http" "$(jsonl "$T/dead.jsonl" field error | tr '\n' ' ' | sed 's/ $//')" "dead letter kinds"
assert_eq "400 400" "$(jsonl "$T/dead.jsonl" field exit_status | tr '\n' ' ' | sed 's/ $//')" "dead letter statuses"
assert_contains "$DAEMON_ERR" "sink:web: HTTP 400: 2 item(s)" "error report"
srv_stop

# --- the server is down at the start, then comes up; then it stalls past the timeout.
cat >"$T/c.yaml" <<YAML
sources:
  - { name: d, type: dir, path: $T/spool }
sinks:
  - { name: web, type: http, url: "http://127.0.0.1:$port/sink", timeout: 500ms, backoff: 50ms, max_backoff: 200ms }
YAML
mkdir -p "$T/spool"
printf 'first' >"$T/spool/a"
start_daemon "$T/c.yaml"
wait_for 'grep -q "sink .web.: http://127.0.0.1:$port/sink: cannot connect" "$DAEMON_ERR"' 30 ||
	fail "the sink did not report the server as down"
srv_start "$T/c.log" --hold "$T/hold"
wait_for '[ "$(lines "$T/c.log")" -ge 1 ]' 30 || fail "the record held while the server was down did not arrive"
touch "$T/hold"
printf 'second' >"$T/spool/b"
wait_for 'grep -q "no answer within 0.500s" "$DAEMON_ERR"' 30 || fail "the stalled request did not time out"
rm -f "$T/hold"
wait_for '[ -e "$T/spool/done/b" ]' 30 || fail "the record was not delivered after the stall"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "sluiced (server down, then stalled)"
check_accounting
assert_eq "first second" "$(sort -u "$T/c.log" | tr '\n' ' ' | sed 's/ $//')" "records, each at least once"
srv_stop
exit 0
