#!/usr/bin/env bash
# state_dir and file source checkpoints (issue 11): a restart continues after the
# last done record, skips records done out of order, reads a replaced file from its
# start; start_at: end; --check's note without state_dir; an unusable state_dir.
. "$(dirname "$0")/../lib.sh"

job() { # STATE_DIR OUT [SOURCE EXTRA] [STAGE]
	cat <<YAML
state_dir: $1
sources:
  - { name: in, type: file, path: $T/in.txt ${3:-} }
${4:-}
sinks:
  - { name: out, type: file, path: $2 }
YAML
}

# ---- a job run twice reads only what was appended in between ----
seq 1 500 >"$T/in.txt"
job "$T/st" "$T/o1.txt" >"$T/c1.yaml"
run_daemon "$T/c1.yaml"
assert_exit 0 $? "first run"
[ -d "$T/st" ] || fail "state_dir was not created"
assert_eq 700 "$(stat -c %a "$T/st")" "mode of the state_dir created"
assert_eq 500 "$(lines "$T/o1.txt")" "records of the first run"
seq 501 520 >>"$T/in.txt"
run_daemon "$T/c1.yaml"
assert_exit 0 $? "second run"
assert_eq "$(seq 1 520)" "$(cat "$T/o1.txt")" "output over both runs (each record once)"
assert_contains "$DAEMON_ERR" "resumed '$T/in.txt' at byte $(head -n 500 "$T/in.txt" | wc -c)" "the resume log line"

# ---- a replaced file (same path, other contents) is read from its start ----
seq 1000 1009 >"$T/new.txt"
mv "$T/new.txt" "$T/in.txt"
run_daemon "$T/c1.yaml"
assert_exit 0 $? "run on the replaced file"
assert_eq "$(seq 1000 1009)" "$(tail -n 10 "$T/o1.txt")" "the replaced file, whole"
assert_eq 530 "$(lines "$T/o1.txt")" "output after the replaced file"
assert_contains "$DAEMON_ERR" "reading it from the start" "the replaced-file log line"

# ---- start_at: end skips what a file held at its first start ----
seq 1 50 >"$T/in.txt"
job "$T/st2" "$T/o2.txt" ", start_at: end" >"$T/c2.yaml"
run_daemon "$T/c2.yaml"
assert_exit 0 $? "start_at: end, first run"
assert_eq 0 "$(lines "$T/o2.txt")" "records read with start_at: end"
seq 51 55 >>"$T/in.txt"
run_daemon "$T/c2.yaml"
assert_eq "$(seq 51 55)" "$(cat "$T/o2.txt")" "records appended after the first start"

# ---- done out of order: a SIGKILL while record 5 is held (until hold goes); the restart
# redoes only its run: records are tracked in runs of 4 consecutive ones (all 40 are read
# at once, so the runs are 1-4, 5-8, ...), and a run is done when all of it is ----
N=40
seq 1 "$N" >"$T/in.txt"
stage='stages:
  - name: work
    workers: 3
    exec: { argv: [sh, -c, '"'"'[ "$$1" != 5 ] || while [ -e '"$T"'/hold ]; do sleep 0.05; done; echo "$$1"'"'"', sh, "{}"] }'
touch "$T/hold"
job "$T/st3" "$T/o3.txt" "" "$stage" >"$T/c3.yaml"
start_daemon "$T/c3.yaml"
# Records 1-4 are bytes 0-8, the run 5-8 is bytes 8-16, records 9-40 are bytes 16-111:
# done past the held run, they are one range (ranges that touch merge).
past=$(($(seq 9 "$N" | wc -c)))
last_state() { tail -n 1 "$T/st3/in.checkpoint" 2>/dev/null | cut -d' ' -f6-; }
wait_for '[ "$(last_state)" = "8 1 16+$past" ]' 60 || fail "the checkpoint never held the $((N - 8)) records done past record 5's run as one range (last: $(tail -n 1 "$T/st3/in.checkpoint"))"
kill -KILL "$DAEMON_PID"
wait_exit "$DAEMON_PID" 30
rm -f "$T/hold"
assert_eq $((N - 1)) "$(lines "$T/o3.txt")" "records written before the kill"
run_daemon "$T/c3.yaml"
assert_exit 0 $? "the run after the kill"
assert_contains "$DAEMON_ERR" "at byte 8, $past byte(s) done past it" "the resume line counts what was done out of order"
assert_eq "$(seq 1 "$N")" "$(sort -n -u "$T/o3.txt")" "every record over the kill"
assert_eq "$(seq 6 8)" "$(sort -n "$T/o3.txt" | uniq -d)" "repeated over the kill: only the rest of the held record's run"

# ---- recovery is visible: sluicectl status and /metrics ----
CTL=$(dirname "$SLUICED")/sluicectl
SOCK=$T/ctl.sock
seq 1 30 >"$T/f.txt"
cat >"$T/c6.yaml" <<YAML
state_dir: $T/st6
metrics: { listen: "127.0.0.1:0" }
control: { socket: $SOCK }
sources:
  - { name: tail, type: file, path: $T/f.txt, follow: true }
sinks:
  - { name: out, type: file, path: $T/o6.txt }
YAML
metrics_port() { grep -ao 'listening on http://127.0.0.1:[0-9]*' "$DAEMON_ERR" | head -n 1 | grep -o '[0-9]*$'; }
bytes=$(stat -c %s "$T/f.txt")
start_daemon "$T/c6.yaml"
wait_for '[ "$(lines "$T/o6.txt")" = 30 ] && [ -n "$(metrics_port)" ]' 60 || fail "the follow run did not deliver its 30 records"
wait_for '"$CTL" -s "$SOCK" status >"$T/status" 2>&1 && grep -q "checkpoint tail: done up to byte $bytes," "$T/status"' 30 ||
	fail "sluicectl status shows no checkpoint at byte $bytes: $(cat "$T/status")"
python3 "$PYHELPERS/http_get.py" "http://127.0.0.1:$(metrics_port)/metrics" "$T/m.txt" >/dev/null || fail "no /metrics"
python3 "$PYHELPERS/promparse.py" check "$T/m.txt" >/dev/null || fail "/metrics does not parse"
age=$(python3 "$PYHELPERS/promparse.py" get "$T/m.txt" sluice_checkpoint_age_seconds source=tail)
[ -n "$age" ] || fail "no sluice_checkpoint_age_seconds for the file source"
assert_eq "$bytes" "$(python3 "$PYHELPERS/promparse.py" get "$T/m.txt" sluice_checkpoint_position_bytes source=tail)" "sluice_checkpoint_position_bytes"
"$CTL" -s "$SOCK" status --json >"$T/s.json" || fail "sluicectl status --json"
assert_eq "$bytes" "$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['sources'][0]['checkpoint']['position'])" "$T/s.json")" "checkpoint position in status --json"
# A graceful stop, then a restart: it repeats nothing.
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
seq 31 35 >>"$T/f.txt"
start_daemon "$T/c6.yaml"
wait_for '[ "$(lines "$T/o6.txt")" -ge 35 ]' 60 || fail "the restart did not deliver the 5 new records"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_eq "$(seq 1 35)" "$(cat "$T/o6.txt")" "records over a graceful restart (none repeated)"
assert_contains "$DAEMON_ERR" "resumed '$T/f.txt' at byte $bytes, 0 byte(s)" "the resume line of the follow source"

# ---- --check says nothing survives a kill without state_dir; an unusable state_dir ----
cat >"$T/c4.yaml" <<YAML
sources:
  - { name: in, type: file, path: $T/in.txt }
sinks:
  - { name: out, type: discard }
YAML
"$SLUICED" --check -c "$T/c4.yaml" >/dev/null 2>"$T/e4"
assert_exit 0 $? "--check without state_dir"
assert_contains "$T/e4" "no state_dir" "--check's note"
"$SLUICED" --check -c "$T/c1.yaml" >/dev/null 2>"$T/e1"
assert_not_contains "$T/e1" "no state_dir" "--check with state_dir"
touch "$T/plain"
job "$T/plain/st" "$T/o5.txt" >"$T/c5.yaml"
run_daemon "$T/c5.yaml"
assert_exit 73 $? "a state_dir that cannot be created"
assert_contains "$DAEMON_ERR" "state_dir '$T/plain/st': cannot create it" "the state_dir error"
exit 0
