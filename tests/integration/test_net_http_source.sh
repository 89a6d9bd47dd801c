#!/usr/bin/env bash
# The http source: many keep-alive clients with exact counts (split: lines),
# 413 for a body over max_body and for a record over max_item_bytes (nothing of
# that request queued), 404/405, 503 with Retry-After once a request has waited
# queue_timeout for a full queue (and nothing of it queued), and ack: true
# (200 when done, 500 when an item failed).
. "$(dirname "$0")/../lib.sh"
require_tool curl curl

h() { timeout -k 5 120 python3 "$PYHELPERS/net_http.py" "$@"; }
read -r p1 p2 < <(python3 "$PYHELPERS/net_port.py" 2 | tr '\n' ' ')
u1=http://127.0.0.1:$p1
u2=http://127.0.0.1:$p2

# --- many clients; errors.
cat >"$T/c.yaml" <<YAML
max_item_bytes: 100
sources:
  - { name: web, type: http, listen: "127.0.0.1:$p1", path: /in, split: lines, max_body: 64KiB }
stages:
  - { name: pass, workers: 2, builtin: { op: passthrough } }
sinks:
  - { name: out, type: file, path: $T/out.txt }
dead_letter: { type: file, path: $T/dead.jsonl }
YAML
start_daemon "$T/c.yaml"
wait_for 'grep -q "listening on http" "$DAEMON_ERR"' 30 || fail "the daemon did not start listening"
got=$(h many "$u1/in" 8 25 10 m) || fail "http clients"
assert_eq "202=200" "$got" "statuses of 200 requests"
long=$(head -c 300 /dev/zero | tr '\0' L)
assert_eq "413" "$(h post "$u1/in" "ok-line\n$long\n" | cut -d' ' -f1)" "a record over max_item_bytes"
big=$(head -c 70000 /dev/zero | tr '\0' B)
assert_eq "413" "$(h post "$u1/in" "$big" | cut -d' ' -f1)" "a body over max_body"
assert_eq "404" "$(h post "$u1/other" "x" | cut -d' ' -f1)" "another path"
assert_eq "405" "$(curl -s -o /dev/null -w '%{http_code}' "$u1/in")" "GET"
wait_for '[ "$(lines "$T/out.txt")" -ge 2000 ]' 30 || fail "only $(lines "$T/out.txt") of 2000 lines arrived"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 1 $? "sluiced (one request rejected)"
check_accounting
assert_eq 2000 "$(lines "$T/out.txt")" "lines written"
for c in 0 7; do for r in 0 24; do for i in 0 9; do
	assert_eq 1 "$(grep -c "^m-$c-$r-$i\$" "$T/out.txt")" "line m-$c-$r-$i"
done; done; done
assert_eq 0 "$(grep -c '^ok-line$' "$T/out.txt")" "nothing of the 413 request was queued"
assert_eq 1 "$(summary_field source web rejected)" "rejected"
assert_eq 1 "$(jsonl "$T/dead.jsonl" count)" "dead letters"

# --- a full queue: requests wait, then 503 with Retry-After; the held ones go through.
cat >"$T/full.yaml" <<YAML
sources:
  - { name: web, type: http, listen: "127.0.0.1:$p1", queue_timeout: 300ms }
stages:
  - name: blocked
    queue: { capacity: 1 }
    exec: { argv: [sh, -c, 'touch $T/started; while [ ! -e $T/go ]; do sleep 0.02; done; printf "%s\n" "\$1"', sh, "{}"] }
sinks:
  - { name: out, type: file, path: $T/full.txt }
YAML
start_daemon "$T/full.yaml"
wait_for 'grep -q "listening on http" "$DAEMON_ERR"' 30 || fail "the daemon did not start listening"
assert_eq 202 "$(h post "$u1/" one | cut -d' ' -f1)" "first request (taken by the worker)"
wait_for '[ -e "$T/started" ]' 30 || fail "the stage did not start"
assert_eq 202 "$(h post "$u1/" two | cut -d' ' -f1)" "second request (fills the queue)"
r=$(h post "$u1/" three)
assert_eq "503 1" "$(echo "$r" | cut -d' ' -f1,2)" "third request (full queue: status and Retry-After)"
# A request waiting when room appears is taken (or, if room came too late, 503).
h post "$u1/" four >"$T/four" &
poster=$!
touch "$T/go"
wait "$poster"
status4=$(cut -d' ' -f1 "$T/four")
[ "$status4" = 202 ] || [ "$status4" = 503 ] || fail "fourth request: status $status4"
wait_for '[ "$(lines "$T/full.txt")" -ge 2 ]' 30 || fail "the held items did not go through"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "sluiced (full queue)"
check_accounting
assert_eq 0 "$(grep -c '^three$' "$T/full.txt")" "nothing of the 503 request was queued"
want=2
[ "$status4" = 202 ] && want=3
assert_eq "$want" "$(lines "$T/full.txt")" "items written (the 202 ones)"

# --- ack: 200 once done, 500 when an item failed.
rm -f "$T/go"
cat >"$T/ack.yaml" <<YAML
sources:
  - { name: web, type: http, listen: "127.0.0.1:$p2", split: lines, ack: true }
stages:
  - name: check
    workers: 4
    exec: { argv: [sh, -c, 'case "\$1" in *bad*) exit 3;; esac; printf "%s\n" "\$1"', sh, "{}"] }
sinks:
  - { name: out, type: file, path: $T/ack.txt }
YAML
start_daemon "$T/ack.yaml"
wait_for 'grep -q "listening on http" "$DAEMON_ERR"' 30 || fail "the daemon did not start listening"
r=$(h post "$u2/" 'a\nb\nc')
assert_eq "200" "$(echo "$r" | cut -d' ' -f1)" "ack: every item done"
assert_eq 3 "$(lines "$T/ack.txt")" "ack: the items were written before the answer"
assert_eq "500" "$(h post "$u2/" 'd\nbad\ne' | cut -d' ' -f1)" "ack: one item failed"
assert_eq "200" "$(h post "$u2/" '' | cut -d' ' -f1)" "ack: no items"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 1 $? "sluiced (an item failed)"
check_accounting
exit 0
