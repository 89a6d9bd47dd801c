#!/usr/bin/env bash
# A structural reload (SIGHUP) under load, with an unchanged tcp source: one
# client keeps ONE connection and streams the numbered lines 1..N through it
# while the stage's command changes. It proves:
#  * the reload is applied ("structure changed"), the old pipeline drains and
#    reports it finished ("previous pipeline ... finished");
#  * the unchanged source is moved with its open connection: the client is never
#    closed, reset or refused, and does not reconnect;
#  * no record lost or duplicated: the shared file sink holds 1..N exactly once;
#  * what was read before the reload went through the old command, what was sent
#    after it through the new one;
#  * SIGTERM afterwards is a graceful stop: exit 0, accounting holds.
. "$(dirname "$0")/../lib.sh"
. "$PYHELPERS/reload.sh"

N=30000
HOLD=24001  # lines HOLD..N are sent only once the reload was applied
port=$(python3 "$PYHELPERS/net_port.py")

write_conf() { # TAG: the stage's coprocess prefixes each line with TAG
	cat >"$T/c.yaml" <<YAML
name: rl-tcp
shutdown: { grace: 30s, kill_after: 2s }
sources:
  - { name: feed, type: tcp, listen: "127.0.0.1:$port" }
stages:
  - name: mark
    workers: 2
    coprocess: { argv: [sed, -u, "s/^/$1 /"] }
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML
}

write_conf old
start_daemon "$T/c.yaml"
wait_running 'grep -aq "listening on 127.0.0.1:$port" "$DAEMON_ERR"' 30 || fail "the daemon did not start listening"

python3 "$PYHELPERS/net_stream.py" stream "127.0.0.1:$port" "$N" --chunk 200 --interval 0.02 \
	--hold-at "$HOLD" "$T/go" --progress "$T/sent" >"$T/client.out" 2>&1 &
client=$!

# Mid-stream: some lines are through, the client is still sending.
wait_running '[ "$(lines "$T/out.txt")" -ge 2000 ]' $((30 * SCALE)) ||
	fail "only $(lines "$T/out.txt") lines reached the sink before the reload"
before=$(lines "$T/out.txt")
write_conf new
reload_sighup
sent_at_reload=$(cat "$T/sent" 2>/dev/null)
note "reload applied with $before lines in the sink, $sent_at_reload sent by the client"
touch "$T/go"

wait "$client"
rc=$?
[ "$rc" -eq 0 ] || fail "the client's connection did not survive the reload: $(cat "$T/client.out")"
assert_eq "ok sent=$N" "$(cat "$T/client.out")" "client"
wait_running '[ "$(lines "$T/out.txt")" -ge $N ]' $((60 * SCALE)) ||
	fail "only $(lines "$T/out.txt") of $N lines reached the sink"
wait_previous_finished
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "sluiced after SIGTERM"
check_accounting
assert_no_leftovers 10

# Exactly 1..N, each once.
assert_eq "$N" "$(lines "$T/out.txt")" "lines in the sink"
cut -d' ' -f2 "$T/out.txt" | sort -n >"$T/got.txt"
seq 1 "$N" >"$T/want.txt"
uniq -d "$T/got.txt" >"$T/dups.txt"
[ ! -s "$T/dups.txt" ] || fail "records written twice: $(head -5 "$T/dups.txt" | tr '\n' ' ')"
assert_file_eq "$T/want.txt" "$T/got.txt" "the numbers in the sink (sorted)"
# Which command processed what: the lines in the sink before the reload by the
# old one, every line sent after it by the new one.
bad=$(grep -avcE '^(old|new) [0-9]+$' "$T/out.txt")
assert_eq 0 "$bad" "lines not tagged 'old N' or 'new N'"
old=$(grep -ac '^old ' "$T/out.txt")
assert_ge "$old" "$before" "lines processed by the old command"
late_old=$(awk -v h="$HOLD" '$1 == "old" && $2 >= h' "$T/out.txt" | wc -l)
assert_eq 0 "$late_old" "lines sent after the reload but processed by the old command"
assert_ge "$(grep -ac '^new ' "$T/out.txt")" $((N - HOLD + 1)) "lines processed by the new command"
exit 0
