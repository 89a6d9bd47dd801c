#!/usr/bin/env bash
# The http stage against a local server: results are the response bodies; {}
# is URL-escaped in the url (and the whole URL when the url is "{}"), plain in
# the body; workers bound the requests in flight and connections are reused;
# 500s are failures ("HTTP 500") that retry can get through; a slow answer past
# the timeout is a timeout; a refused connection is an I/O failure.
. "$(dirname "$0")/../lib.sh"

read -r port dead < <(python3 "$PYHELPERS/net_port.py" 2 | tr '\n' ' ')
python3 "$PYHELPERS/net_http.py" serve "$port" "$T/srv" >"$T/server.log" 2>&1 &
srv=$!
wait_for 'grep -q ready "$T/server.log"' 30 || fail "the test server did not start"
base=http://127.0.0.1:$port

# --- results, escaping, bodies, concurrency and connection reuse.
printf 'a b/c?d\nplain\n%s\n' "$base/ok/whole" >"$T/in.txt"
for i in $(seq 1 40); do echo "item-$i"; done >"$T/many.txt"
cat >"$T/a.yaml" <<YAML
sources:
  - { name: few, type: file, path: $T/in.txt }
stages:
  - name: get
    http: { url: "$base/ok/{}" }
  - name: post
    http: { method: POST, url: "$base/echo", body: "<{}>", headers: { X-Seq: "{seq}" } }
sinks:
  - { name: out, type: file, path: $T/a.out }
YAML
run_daemon "$T/a.yaml"
assert_exit 0 $? "sluiced (results)"
check_accounting
printf '<got a b/c?d>\n<got plain>\n<got http://127.0.0.1:%s/ok/whole>\n' "$port" | sort >"$T/want"
sort "$T/a.out" >"$T/got"
assert_file_eq "$T/want" "$T/got" "response bodies as results"
assert_contains "$T/srv.requests" "GET /ok/a%20b%2Fc%3Fd" "the item URL-escaped in the url"
cat >"$T/u.yaml" <<YAML
sources:
  - { name: urls, type: file, path: $T/urls.txt }
stages:
  - { name: get, http: { url: "{}" } }
sinks:
  - { name: out, type: file, path: $T/u.out }
YAML
printf '%s\n' "$base/ok/x%20y" >"$T/urls.txt"
run_daemon "$T/u.yaml"
assert_exit 0 $? "sluiced (url: {})"
assert_eq "got x y" "$(cat "$T/u.out")" "the item as the whole URL, as it is"

conns0=$(cat "$T/srv.conns")
cat >"$T/c.yaml" <<YAML
sources:
  - { name: many, type: file, path: $T/many.txt }
stages:
  - name: slow
    workers: 8
    http: { url: "$base/slow/0.2/{}" }
sinks:
  - { name: out, type: file, path: $T/c.out }
YAML
run_daemon "$T/c.yaml"
assert_exit 0 $? "sluiced (concurrency)"
check_accounting
sed 's/^/got /' "$T/many.txt" | sort >"$T/want"
sort "$T/c.out" >"$T/got"
assert_file_eq "$T/want" "$T/got" "40 slow requests"
maxc=$(cat "$T/srv.maxconc")
conns=$(($(cat "$T/srv.conns") - conns0))
note "most requests in flight at once: $maxc; connections: $conns"
assert_le "$maxc" 8 "requests in flight at once (workers: 8)"
assert_ge "$maxc" 2 "requests in flight at once"
assert_le "$conns" 8 "connections for 40 requests (reused)"

# --- failures: 500 (retried), timeout, refused.
cat >"$T/f.yaml" <<YAML
sources:
  - { name: g, type: generate, count: 2 }
stages:
  - name: err
    http: { url: "$base/status/500" }
    retry: { attempts: 3, backoff: 10ms }
  - name: never
    builtin: { op: passthrough }
sinks:
  - { name: out, type: discard }
dead_letter: { type: file, path: $T/dead.jsonl }
YAML
run_daemon "$T/f.yaml"
assert_exit 1 $? "sluiced (500s)"
check_accounting
assert_eq 2 "$(summary_field err failed)" "failed items"
assert_contains "$DAEMON_ERR" "err: HTTP 500: 2 item(s)" "error report"
assert_eq 6 "$(grep -c 'GET /status/500' "$T/srv.requests")" "attempts (3 per item)"

cat >"$T/t.yaml" <<YAML
sources:
  - { name: g, type: generate, count: 3, template: "t{seq}" }
stages:
  - name: slow
    workers: 3
    http: { url: "$base/slow/5/{}", timeout: 300ms }
  - name: refused
    http: { url: "http://127.0.0.1:$dead/x" }
sinks:
  - { name: out, type: discard }
YAML
run_daemon "$T/t.yaml"
assert_exit 1 $? "sluiced (timeouts)"
check_accounting
assert_eq 3 "$(summary_field slow failed)" "timed-out items"
assert_contains "$DAEMON_ERR" "slow: timeout: 3 item(s)" "error report"
cat >"$T/r.yaml" <<YAML
sources:
  - { name: g, type: generate, count: 2 }
stages:
  - name: refused
    http: { url: "http://127.0.0.1:$dead/x" }
sinks:
  - { name: out, type: discard }
YAML
run_daemon "$T/r.yaml"
assert_exit 1 $? "sluiced (connection refused)"
check_accounting
assert_contains "$DAEMON_ERR" "refused: io: 2 item(s)" "error report"
{ kill "$srv" && wait "$srv"; } 2>/dev/null
exit 0
