#!/usr/bin/env bash
# Reloads that change a tcp and a unix source (max_connections, idle_timeout)
# but keep their listen address and path: each new source takes over the old
# listening socket and the open connections, which carry on.
# A. Clients open short connections (one line each, half-close, wait for the
#    daemon to close) in a loop before, during and after five reloads in a row:
#    no connect is ever refused (no moment without a listener) on either socket;
#    no connection is reset (each ends with a clean close by the daemon); one
#    connection on each source, open across all the reloads, goes on sending
#    (paused until the first reload is done) without being closed or reset;
#    every line reaches the sink exactly once, nothing else does; each previous
#    pipeline finishes; SIGTERM then exits 0.
# B. Two connections that have sent 6000 lines each, most of them still unread
#    in the kernel (backpressure) when the sources are replaced: carried over and
#    read to their end, every line processed exactly once, a clean close.
. "$(dirname "$0")/../lib.sh"
. "$PYHELPERS/reload.sh"

port=$(python3 "$PYHELPERS/net_port.py")
SOCK=$T/in.sock
RELOADS=5

write_conf() { # MAX_CONNECTIONS IDLE_TIMEOUT
	cat >"$T/c.yaml" <<YAML
name: rl-listen
shutdown: { grace: 2s, kill_after: 2s }
sources:
  - { name: tcp, type: tcp, listen: "127.0.0.1:$port", max_connections: $1, idle_timeout: $2 }
  - { name: sock, type: unix, path: $SOCK, max_connections: $1, idle_timeout: $2 }
stages:
  - { name: pass, workers: 2, builtin: { op: passthrough } }
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML
}

write_conf 64 0s
start_daemon "$T/c.yaml"
wait_running 'grep -aq "listening on 127.0.0.1:$port" "$DAEMON_ERR" && grep -aq "listening on $SOCK" "$DAEMON_ERR"' 30 ||
	fail "the daemon did not start listening"

stream() { python3 "$PYHELPERS/net_stream.py" "$@"; }
churn() { # ADDR NAME
	stream churn "$1" "$2" "$T/$2" --threads 3 --stop "$T/stop" >"$T/$2.out" 2>&1
}
count() { cat "$T/$1/count" 2>/dev/null || echo 0; }
in_sink() { grep -ac "^$1\$" "$T/out.txt" 2>/dev/null; }

# A connection on each source open across the reloads: 100 lines, then (once the
# first reload is done) 1900 more, slowly.
HELD=2000
stream stream "127.0.0.1:$port" $HELD --chunk 20 --interval 0.01 --hold-at 101 "$T/held-go" \
	--prefix held-t- >"$T/held-t.out" 2>&1 &
h1=$!
stream stream "unix:$SOCK" $HELD --chunk 20 --interval 0.01 --hold-at 101 "$T/held-go" \
	--prefix held-u- >"$T/held-u.out" 2>&1 &
h2=$!
wait_running '[ "$(in_sink held-t-100)" = 1 ] && [ "$(in_sink held-u-100)" = 1 ]' $((30 * SCALE)) ||
	fail "the held connections' lines did not reach the sink"

churn "127.0.0.1:$port" t &
c1=$!
churn "unix:$SOCK" u &
c2=$!
wait_running '[ "$(count t)" -ge 200 ] && [ "$(count u)" -ge 200 ]' $((30 * SCALE)) ||
	fail "the clients did not get going: tcp $(count t), unix $(count u) connections"

for r in $(seq 1 "$RELOADS"); do
	write_conf $((64 + r)) $((30 + r))s
	reload_sighup
	[ "$r" = 1 ] && touch "$T/held-go"
	# The clients go on while the old pipeline drains, and past its end.
	wait_previous_finished "$r"
	t0=$(count t)
	u0=$(count u)
	wait_running '[ "$(count t)" -ge $((t0 + 50)) ] && [ "$(count u)" -ge $((u0 + 50)) ]' $((30 * SCALE)) ||
		fail "reload $r: the clients stalled once the previous pipeline had finished: tcp $(count t) (was $t0), unix $(count u) (was $u0) connections"
done
t0=$(count t)
u0=$(count u)
wait_running '[ "$(count t)" -ge $((t0 + 200)) ] && [ "$(count u)" -ge $((u0 + 200)) ]' $((30 * SCALE)) ||
	fail "the clients stalled after the last reload: tcp $(count t) (was $t0), unix $(count u) (was $u0) connections"
touch "$T/stop"
wait "$c1" || fail "tcp client: exit $?"
wait "$c2" || fail "unix client: exit $?"
note "tcp: $(cat "$T/t.out"); unix: $(cat "$T/u.out")"
wait "$h1"
wait "$h2"
assert_eq "ok sent=$HELD" "$(cat "$T/held-t.out")" "the tcp connection open across the reloads"
assert_eq "ok sent=$HELD" "$(cat "$T/held-u.out")" "the unix connection open across the reloads"
seq -f 'held-t-%g' 1 $HELD >"$T/held.txt"
seq -f 'held-u-%g' 1 $HELD >>"$T/held.txt"

for c in t u; do
	r=$(grep -ac '^refused ' "$T/$c/bad")
	assert_eq 0 "$r" "$c: connects refused ($(grep -a '^refused ' "$T/$c/bad" | head -3 | tr '\n' ';'))"
done
cat "$T/t/ok" "$T/u/ok" "$T/held.txt" | sort >"$T/ok.sorted"
cat "$T/t/sent" "$T/u/sent" "$T/held.txt" | sort >"$T/sent.sorted"
wait_running '[ "$(lines "$T/out.txt")" -ge "$(lines "$T/ok.sorted")" ]' $((30 * SCALE)) ||
	fail "only $(lines "$T/out.txt") of $(lines "$T/ok.sorted") lines reached the sink"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "sluiced after SIGTERM"
check_accounting

sort "$T/out.txt" >"$T/out.sorted"
uniq -d "$T/out.sorted" >"$T/dups.txt"
[ ! -s "$T/dups.txt" ] || fail "lines written twice: $(head -5 "$T/dups.txt" | tr '\n' ' ')"
comm -23 "$T/ok.sorted" "$T/out.sorted" >"$T/missing.txt"
[ ! -s "$T/missing.txt" ] ||
	fail "$(lines "$T/missing.txt") line(s) of cleanly closed connections never reached the sink: $(head -5 "$T/missing.txt" | tr '\n' ' ')"
comm -13 "$T/sent.sorted" "$T/out.sorted" >"$T/extra.txt"
[ ! -s "$T/extra.txt" ] || fail "lines in the sink that no client sent: $(head -5 "$T/extra.txt" | tr '\n' ' ')"
# Graceful: no connection was reset (a reset loses what the daemon had not read).
cat "$T/t/bad" "$T/u/bad" >"$T/bad.txt"
if [ -s "$T/bad.txt" ]; then
	lost=$(awk '{ print $2 }' "$T/bad.txt" | sort | comm -23 - "$T/out.sorted" | wc -l)
	fail "$(lines "$T/bad.txt") connection(s) not closed cleanly by the daemon ($lost of their lines never reached the sink): $(head -4 "$T/bad.txt" | tr '\n' ';')"
fi
[ ! -e "$SOCK" ] || fail "the unix socket file was not removed at the stop"

# --- B. Connections holding unread input at the reload. The stage is held back
# (a co-process that answers nothing until $T/go exists; tiny queue), so the
# daemon stops reading the two clients' 6000 lines each after the first few:
# most of them wait in the kernel when the sources are replaced. Carried over to
# the new sources, those connections are read to their end: every line is
# processed, and the clients see a clean close.
cat >"$T/gate.py" <<'PY'
import os, sys, time
go, ready = sys.argv[1], False
for line in sys.stdin:
    while not ready:
        ready = os.path.exists(go)
        time.sleep(0 if ready else 0.02)
    sys.stdout.write(line)
    sys.stdout.flush()
PY
CTL=$(dirname "$SLUICED")/sluicectl
CSOCK=$T/ctl.sock
src_items() { "$CTL" -s "$CSOCK" status --json | python3 -c 'import json, sys; d = json.load(sys.stdin); print([s["items"] for s in d["sources"] if s["name"] == sys.argv[1]][0])' "$1"; }
write_conf_b() { # MAX_CONNECTIONS
	cat >"$T/b.yaml" <<YAML
name: rl-listen-b
shutdown: { grace: 30s, kill_after: 2s }
sources:
  - { name: tcp, type: tcp, listen: "127.0.0.1:$port", max_connections: $1 }
  - { name: sock, type: unix, path: $SOCK, max_connections: $1 }
stages:
  - name: gate
    workers: 2
    queue: { capacity: 4 }
    coprocess: { argv: [python3, -u, $T/gate.py, $T/go] }
sinks:
  - { name: out, type: file, path: $T/b.out }
control: { socket: $CSOCK }
YAML
}
write_conf_b 64
start_daemon "$T/b.yaml"
wait_running 'grep -aq "listening on $SOCK" "$DAEMON_ERR" && [ -S "$CSOCK" ]' 30 || fail "B: the daemon did not start listening"
printf 'bt-%04d\n' $(seq 1 6000) >"$T/bt.txt"
printf 'bu-%04d\n' $(seq 1 6000) >"$T/bu.txt"
stream hold "127.0.0.1:$port" "@$T/bt.txt" --shut >"$T/bt.out" 2>&1 &
h1=$!
stream hold "unix:$SOCK" "@$T/bu.txt" --shut >"$T/bu.out" 2>&1 &
h2=$!
# Both sent everything (the kernel took it) and the old sources have read some.
wait_running 'grep -q sent "$T/bt.out" && grep -q sent "$T/bu.out"' $((30 * SCALE)) ||
	fail "B: the clients could not send their lines: $(cat "$T/bt.out" "$T/bu.out")"
wait_running '[ "$(src_items tcp)" -ge 1 ] && [ "$(src_items sock)" -ge 1 ]' $((30 * SCALE)) ||
	fail "B: the sources read nothing"
note "B: read before the reload: tcp $(src_items tcp), unix $(src_items sock) of 6000 each"
write_conf_b 65
reload_sighup
touch "$T/go"
wait_running 'grep -q closed "$T/bt.out" && grep -q closed "$T/bu.out"' $((30 * SCALE)) ||
	fail "B: the clients' connections were not closed: $(cat "$T/bt.out" "$T/bu.out" | tr '\n' ' ')"
wait "$h1"
wait "$h2"
assert_eq "sent closed eof" "$(tr '\n' ' ' <"$T/bt.out" | sed 's/ $//')" "B: the tcp client holding unread lines"
assert_eq "sent closed eof" "$(tr '\n' ' ' <"$T/bu.out" | sed 's/ $//')" "B: the unix client holding unread lines"
wait_running '[ "$(lines "$T/b.out")" -ge 12000 ]' $((30 * SCALE)) ||
	fail "B: only $(lines "$T/b.out") of 12000 lines reached the sink"
wait_previous_finished
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "B: sluiced after SIGTERM"
check_accounting
sort "$T/bt.txt" "$T/bu.txt" >"$T/b.want"
sort "$T/b.out" >"$T/b.got"
assert_file_eq "$T/b.want" "$T/b.got" "B: every line of both clients, exactly once"
assert_no_leftovers 10
exit 0
