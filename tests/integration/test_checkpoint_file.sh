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
# redoes only it ----
N=40
seq 1 "$N" >"$T/in.txt"
stage='stages:
  - name: work
    workers: 3
    exec: { argv: [sh, -c, '"'"'[ "$$1" != 5 ] || while [ -e '"$T"'/hold ]; do sleep 0.05; done; echo "$$1"'"'"', sh, "{}"] }'
touch "$T/hold"
job "$T/st3" "$T/o3.txt" "" "$stage" >"$T/c3.yaml"
start_daemon "$T/c3.yaml"
last_n() { tail -n 1 "$T/st3/in.checkpoint" 2>/dev/null | cut -d' ' -f7; }
wait_for '[ "$(last_n)" = $((N - 5)) ]' 60 || fail "the checkpoint never held the $((N - 5)) records done past record 5 (last: $(tail -n 1 "$T/st3/in.checkpoint"))"
kill -KILL "$DAEMON_PID"
wait_exit "$DAEMON_PID" 30
rm -f "$T/hold"
assert_eq $((N - 1)) "$(lines "$T/o3.txt")" "records written before the kill"
run_daemon "$T/c3.yaml"
assert_exit 0 $? "the run after the kill"
assert_contains "$DAEMON_ERR" "$((N - 5)) record(s) done past it" "the resume line counts the records done out of order"
assert_eq "$(seq 1 "$N")" "$(sort -n "$T/o3.txt")" "every record exactly once over the kill"

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
