#!/usr/bin/env bash
# A spool being replayed (PATH.replaying) stays until every replayed record is
# done end to end, not only handed to a sink: a SIGKILL while the sink still holds
# the replayed records (a FIFO that is full: nothing can be written), then a
# restart, delivers every spooled item. The old daemon removed PATH.replaying as
# soon as the sink had buffered them, and the kill lost them all.
. "$(dirname "$0")/../lib.sh"

N=20
seq -f 'r%02g' 1 "$N" >"$T/in.txt"
: >"$T/empty.txt"
mkdir -p "$T/spool"
conf() { # STAGE_BLOCK SINK_PATH SOURCE_PATH [EXTRA]
	cat <<YAML
shutdown: { spool: $T/spool/job.spool, kill_after: 1s, grace: 60s }
${4:-}
sources:
  - { name: in, type: file, path: $3 }
stages:
  - name: work
    workers: 2
$1
sinks:
  - { name: out, type: file, path: $2 }
YAML
}
hang='    exec: { argv: [sleep, "1000"] }'
pass='    builtin: { op: passthrough }'

# ---- run 1: every item waits in a stage that hangs; a cancel spools them all ----
conf "$hang" "$T/out1.txt" "$T/in.txt" >"$T/c1.yaml"
start_daemon "$T/c1.yaml"
wait_for '[ "$(marked_children | wc -w)" -ge 2 ]' 60 || fail "the stage's children did not start"
send_signal "$DAEMON_PID" TERM
send_signal "$DAEMON_PID" TERM
wait_exit "$DAEMON_PID" 60
assert_exit 75 $? "the cancelled first run"
assert_eq "$N" "$(summary_field unfinished spooled)" "items spooled"

# ---- run 2: the replay reaches a sink that cannot write (a full FIFO); SIGKILL ----
mkfifo "$T/fifo"
exec 3<>"$T/fifo" # a reader that never reads, so the sink's open succeeds
python3 - <<'PY'
import fcntl, os
fcntl.fcntl(3, fcntl.F_SETFL, fcntl.fcntl(3, fcntl.F_GETFL) | os.O_NONBLOCK)
try:
    while True:
        os.write(3, b"x" * 4096)
except BlockingIOError:
    pass
PY
conf "$pass" "$T/fifo" "$T/empty.txt" 'metrics: { listen: "127.0.0.1:0" }' >"$T/c2.yaml"
start_daemon "$T/c2.yaml"
metrics_port() { grep -ao 'listening on http://127.0.0.1:[0-9]*' "$DAEMON_ERR" | head -n 1 | grep -o '[0-9]*$'; }
wait_for '[ -n "$(metrics_port)" ]' 60 || fail "no metrics port in the log"
pending() {
	python3 "$PYHELPERS/http_get.py" "http://127.0.0.1:$(metrics_port)/metrics" "$T/m.txt" >/dev/null &&
		awk '$1 ~ /^sluice_sink_pending_records\{.*sink="out"/ { print $2 }' "$T/m.txt"
}
wait_for '[ "$(pending)" = "$N" ]' 60 || fail "the sink never held the $N replayed records (pending: $(pending))"
assert_contains "$DAEMON_ERR" "replaying $N unfinished item(s) from the spool" "the replay log line"
[ -e "$T/spool/job.spool.replaying" ] ||
	note "job.spool.replaying is gone while the sink holds every replayed record unwritten"
kill -KILL "$DAEMON_PID"
wait_exit "$DAEMON_PID" 30
exec 3<&-

# ---- run 3: a restart with a sink that works delivers every spooled item ----
conf "$pass" "$T/out3.txt" "$T/empty.txt" >"$T/c3.yaml"
run_daemon "$T/c3.yaml"
assert_exit 0 $? "the run after the kill"
assert_eq "$(cat "$T/in.txt")" "$(sort "$T/out3.txt")" "every spooled item delivered after the kill"
assert_contains "$DAEMON_ERR" "every item replayed from the spool is done; removed" "the removal log line"
[ -e "$T/spool/job.spool.replaying" ] && fail "job.spool.replaying is left after a replay that finished"
exit 0
