#!/usr/bin/env bash
# tcp and unix sources: many clients with exact counts, a client that closes in
# the middle of a line (cleanly: the tail is a record; with a reset: it is not),
# an oversize line (that connection is closed, counted as rejected, the others
# go on), max_connections, idle_timeout, nul framing, and a graceful stop.
. "$(dirname "$0")/../lib.sh"

net() { timeout -k 5 120 python3 "$PYHELPERS/net_client.py" "$@"; }
port=$(python3 "$PYHELPERS/net_port.py")

# --- many clients, tcp and unix together, exact counts.
cat >"$T/many.yaml" <<YAML
sources:
  - { name: tcp, type: tcp, listen: "127.0.0.1:$port" }
  - { name: sock, type: unix, path: $T/in.sock }
stages:
  - { name: pass, workers: 4, builtin: { op: passthrough } }
sinks:
  - { name: out, type: file, path: $T/many.out }
YAML
start_daemon "$T/many.yaml"
wait_for '[ -S "$T/in.sock" ] && grep -q "listening on 127.0.0.1:$port" "$DAEMON_ERR"' 30 ||
	fail "the daemon did not start listening"
net many "127.0.0.1:$port" 20 500 t &
c1=$!
net many "unix:$T/in.sock" 10 300 u &
c2=$!
wait "$c1" || fail "tcp clients failed"
wait "$c2" || fail "unix clients failed"
wait_for '[ "$(lines "$T/many.out")" -ge 13000 ]' 60 ||
	fail "only $(lines "$T/many.out") of 13000 lines reached the sink"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "sluiced after SIGTERM"
check_accounting
assert_eq 10000 "$(summary_field source tcp items)" "tcp source items"
assert_eq 3000 "$(summary_field source sock items)" "unix source items"
{
	for c in $(seq 0 19); do for i in $(seq 0 499); do echo "t-$c-$i"; done; done
	for c in $(seq 0 9); do for i in $(seq 0 299); do echo "u-$c-$i"; done; done
} | sort >"$T/many.want"
sort "$T/many.out" >"$T/many.got"
assert_file_eq "$T/many.want" "$T/many.got" "every line of every client, exactly once"
# Each client's lines keep their order.
for c in 0 7 19; do
	grep "^t-$c-" "$T/many.out" >"$T/order.got"
	for i in $(seq 0 499); do echo "t-$c-$i"; done >"$T/order.want"
	assert_file_eq "$T/order.want" "$T/order.got" "order of client $c's lines"
done
[ ! -e "$T/in.sock" ] || fail "the unix socket file was not removed at the stop"

# --- closing in the middle of a line; oversize; nul framing.
cat >"$T/edge.yaml" <<YAML
max_item_bytes: 1KiB
sources:
  - { name: tcp, type: tcp, listen: "127.0.0.1:$port" }
  - { name: z, type: unix, path: $T/z.sock, framing: nul }
sinks:
  - { name: out, type: file, path: $T/edge.out }
dead_letter: { type: file, path: $T/dead.jsonl }
YAML
start_daemon "$T/edge.yaml"
wait_for 'grep -q "listening on $T/z.sock" "$DAEMON_ERR"' 30 || fail "the daemon did not start listening"
net send "127.0.0.1:$port" 'a1\na2\nhalf-clean' --wait-close >/dev/null || fail "clean sender"
net send "127.0.0.1:$port" 'b1\nhalf-reset' --rst || fail "reset sender"
long=$(head -c 3000 /dev/zero | tr '\0' L)
out=$(net send "127.0.0.1:$port" "c1\n${long}\nc2\n" --wait-close) || fail "oversize sender"
assert_eq closed "$out" "the oversize sender's connection was closed by the daemon"
net send "unix:$T/z.sock" 'z1\0z2\0z3' --wait-close >/dev/null || fail "nul sender"
wait_for '[ "$(lines "$T/edge.out")" -ge 8 ]' 30 || fail "expected 8 records, got $(lines "$T/edge.out")"
wait_for 'grep -q "broke in the middle of a record" "$DAEMON_ERR"' 30 ||
	fail "no log line for the reset connection's partial record"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 1 $? "sluiced (a record was rejected)"
check_accounting
printf 'a1\na2\nhalf-clean\nb1\nc1\nz1\nz2\nz3\n' | sort >"$T/edge.want"
sort "$T/edge.out" >"$T/edge.got"
assert_file_eq "$T/edge.want" "$T/edge.got" "records of the edge cases"
assert_eq 1 "$(summary_field source tcp rejected)" "tcp source rejected"
assert_eq 1 "$(jsonl "$T/dead.jsonl" count)" "dead-lettered oversize records"
assert_contains "$DAEMON_ERR" "longer than max_item_bytes" "log"

# --- max_connections and idle_timeout.
cat >"$T/limits.yaml" <<YAML
sources:
  - { name: tcp, type: tcp, listen: "127.0.0.1:$port", max_connections: 2, idle_timeout: 500ms }
sinks:
  - { name: out, type: file, path: $T/limits.out }
YAML
start_daemon "$T/limits.yaml"
wait_for 'grep -q "listening on" "$DAEMON_ERR"' 30 || fail "the daemon did not start listening"
net hold "127.0.0.1:$port" 3 >"$T/hold.out" &
holder=$!
wait_for 'grep -q "max_connections (2) are open" "$DAEMON_ERR"' 30 || fail "no log line for the refused connection"
wait_for 'grep -q "closed 3" "$T/hold.out"' 30 || fail "the idle connections were not closed ($(cat "$T/hold.out"))"
assert_contains "$DAEMON_ERR" "idle for 0.5s (idle_timeout)" "log"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
# Slots are free again: a new client gets through.
net many "127.0.0.1:$port" 2 10 m || fail "clients after the limit"
wait_for '[ "$(lines "$T/limits.out")" -ge 20 ]' 30 || fail "the clients after the limit were not served"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "sluiced (limits)"
check_accounting
exit 0
