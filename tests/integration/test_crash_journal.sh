#!/usr/bin/env bash
# The journal (issue 11): what sources that cannot replay gave the pipeline
# survives a SIGKILL.
#
# 1. The loader: a journal needs state_dir; with one, shutdown.spool is refused as
#    redundant, and ack: journaled needs a journal (each at its FILE:LINE:COL).
# 2. A generate source with a count -> a slow stage, SIGKILL: the restart replays
#    what was unfinished ("replayed N item(s) from the journal") and the generator
#    goes on from its kept count: every record is out, about once.
# 3. A cancel with a journal writes no spool: the items stay in the journal
#    (kept=) and come back at the next start.
# 4. The seeded crash driver (scripts/stress/crash-journal), about 15 kills over
#    tcp ack: journaled, http 202 and damaged tails, plus the full tmpfs when
#    mount is permitted: every acked record is delivered.
. "$(dirname "$0")/../lib.sh"

# ---- 1: loader ----
cat >"$T/bad.yaml" <<YAML
journal: { fsync: batch }
shutdown: { spool: $T/x.spool }
sources:
  - { name: in, type: tcp, listen: "127.0.0.1:1", ack: journaled }
  - { name: in2, type: tcp, listen: "127.0.0.1:2", ack: yes }
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML
"$SLUICED" --check -c "$T/bad.yaml" >"$T/check.out" 2>&1
assert_exit 78 $? "--check of a journal without state_dir"
assert_contains "$T/check.out" "bad.yaml:1:1: 'journal' needs a top-level 'state_dir'" "journal without state_dir"
assert_contains "$T/check.out" "bad.yaml:2:20: 'shutdown.spool' is redundant with a 'journal'" "spool with a journal"
cat >"$T/bad2.yaml" <<YAML
sources:
  - { name: in, type: tcp, listen: "127.0.0.1:1", ack: journaled }
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML
"$SLUICED" --check -c "$T/bad2.yaml" >"$T/check2.out" 2>&1
assert_exit 78 $? "--check of ack: journaled without a journal"
assert_contains "$T/check2.out" "bad2.yaml:2:56: 'ack: journaled' in source 'in' needs a top-level 'journal'" "ack: journaled without a journal"
assert_not_contains "$T/check.out" "'ack' must be" "ack: yes (as a bool) is still accepted"

# ---- 2: SIGKILL, then the replay ----
N=400
cat >"$T/gen.yaml" <<YAML
state_dir: $T/state
journal: { fsync: never }
sources:
  - { name: gen, type: generate, count: $N, template: "g{seq}" }
stages:
  - { name: slow, workers: 2, rate: 200/s, builtin: { op: passthrough } }
sinks:
  - { name: out, type: file, path: $T/gen.txt }
YAML
start_daemon "$T/gen.yaml"
wait_for '[ "$(lines "$T/gen.txt")" -ge 20 ]' 60 || fail "no output before the kill"
kill -KILL "$DAEMON_PID"
wait_exit "$DAEMON_PID" 30
before=$(lines "$T/gen.txt")
[ "$before" -lt "$N" ] || fail "the job finished before the kill ($before lines)"
ls "$T/state/journal"/seg-*.log >/dev/null 2>&1 || fail "no journal segment in $T/state/journal"
# The restart generates its $N again, and replays what the kill left unfinished.
run_daemon "$T/gen.yaml"
assert_exit 0 $? "the restart after the kill"
assert_contains "$DAEMON_ERR" "item(s) from the journal" "the replay line"
replayed=$(grep -ao 'replayed [0-9]* item(s) from the journal' "$DAEMON_ERR" | grep -o '[0-9]*' | head -n 1)
assert_ge "$replayed" 1 "items replayed from the journal"
assert_contains "$DAEMON_ERR" "replayed: items=$replayed" "replayed in the summary"
assert_contains "$DAEMON_ERR" "source 'gen': goes on after the" "the generator keeps its count"
# Every record is out once: the killed run wrote some, the replay the rest of what it
# had made, and the generator went on after those (a record whose done mark had
# not been written at the kill may be out twice).
python3 - "$T/gen.txt" "$N" <<'PY' || fail "records lost or repeated across the kill"
import collections, sys
lines = open(sys.argv[1]).read().split("\n")[:-1]
n = int(sys.argv[2])
c = collections.Counter(lines)
missing = [i for i in range(1, n + 1) if c["g%d" % i] < 1]
assert not missing, missing[:5]
dups = len(lines) - len(c)
print("# generate: %d records, %d out twice" % (n, dups))
assert dups <= 10, dups
assert set(c) == {"g%d" % i for i in range(1, n + 1)}, sorted(set(c))[:5]
PY
# A graceful restart of the finished job: nothing to replay, nothing made again.
lines_before=$(lines "$T/gen.txt")
run_daemon "$T/gen.yaml"
assert_contains "$DAEMON_ERR" "replayed 0 item(s) from the journal" "nothing left to replay after a clean run"
assert_eq "$lines_before" "$(lines "$T/gen.txt")" "records written by a restart of a finished job"

# ---- 3: a cancel writes no spool ----
rm -rf "$T/state" "$T/gen.txt"
cat >"$T/cancel.yaml" <<YAML
state_dir: $T/state
journal: {}
control: { socket: $T/ctl.sock }
metrics: { listen: "127.0.0.1:0" }
shutdown: { grace: 60s, kill_after: 1s }
sources:
  - { name: gen, type: generate, template: "c{seq}", interval: 1ms }
stages:
  # A short queue: what is kept at the cancel (and run at the next start, one
  # process each) is a few dozen items, not the default thousand.
  - { name: hang, workers: 2, queue: { capacity: 50 }, exec: { argv: [sh, -c, 'case \$1 in c[1-5]) echo "\$1" ;; *) sleep 1000 ;; esac', sh, "{}"] } }
sinks:
  - { name: out, type: file, path: $T/gen.txt }
YAML
STATE_DIRECTORY=$T/sd start_daemon "$T/cancel.yaml"
wait_for '[ "$(lines "$T/gen.txt")" -ge 2 ] && [ "$(marked_children | wc -w)" -ge 2 ]' 60 ||
	fail "the cancel run did not get going"
# The journal is visible: metrics and sluicectl status.
PORT=$(grep -ao 'listening on http://127.0.0.1:[0-9]*' "$DAEMON_ERR" | head -n 1 | grep -o '[0-9]*$')
python3 "$PYHELPERS/http_get.py" "http://127.0.0.1:$PORT/metrics" "$T/m.txt" >/dev/null || fail "GET /metrics"
assert_ge "$(python3 "$PYHELPERS/promparse.py" get "$T/m.txt" sluice_journal_items)" 1 "sluice_journal_items"
assert_ge "$(python3 "$PYHELPERS/promparse.py" get "$T/m.txt" sluice_journal_bytes)" 18 "sluice_journal_bytes"
"$(dirname "$SLUICED")/sluicectl" -s "$T/ctl.sock" status >"$T/status.txt" || fail "sluicectl status: exit $?"
assert_contains "$T/status.txt" "journal: " "sluicectl status shows the journal"
assert_contains "$T/status.txt" "at start replayed 0 item(s), dropped 0 byte(s) of torn tail" "sluicectl status: the recovery"
send_signal "$DAEMON_PID" TERM
send_signal "$DAEMON_PID" TERM
wait_exit "$DAEMON_PID" 60
kept=$(summary_field unfinished kept)
assert_ge "$kept" 1 "items kept in the journal at the cancel"
assert_eq 0 "$(summary_field unfinished spooled)" "spooled with a journal"
assert_eq 0 "$(summary_field unfinished lost)" "lost with a journal"
[ -z "$(ls "$T/sd" 2>/dev/null)" ] || fail "a spool was written: $(ls "$T/sd")"
sed -i 's/interval: 1ms/count: 0/' "$T/cancel.yaml"
sed -i 's/\*) sleep 1000/*) echo "$1"/' "$T/cancel.yaml"
run_daemon "$T/cancel.yaml"
assert_exit 0 $? "the start after the cancel"
assert_contains "$DAEMON_ERR" "replayed $kept item(s) from the journal" "the kept items come back"

# ---- 4: the seeded crash driver ----
SAN=()
[ "$SLUICE_SAN" = 1 ] && SAN=(--san)
python3 "$SRC_DIR/scripts/stress/crash-journal" --seed 7 --kills 15 --time-bound 240 \
	--sluiced "$SLUICED" --out "$T/crash" "${SAN[@]}" >"$T/crash.out" 2>&1
rc=$?
sed "s/^/# /" "$T/crash.out"
assert_exit 0 "$rc" "scripts/stress/crash-journal --seed 7 --kills 15 (see $T/crash)"
