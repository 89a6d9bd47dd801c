#!/usr/bin/env bash
# Service signals and log formats: SIGUSR1 reopens a file sink after a
# logrotate-style rename (the old file has the records written before the
# reopen, the new one those after, none lost or repeated); SIGUSR2 writes the
# counters to the log; under journald (JOURNAL_STREAM) log lines carry the <N>
# priority prefix; --log-format json writes one JSON object per line.
. "$(dirname "$0")/../lib.sh"

OUT=$T/out.txt
cat >"$T/c.yaml" <<YAML
name: rotate
sources:
  - { name: gen, type: generate, interval: 5ms, template: "a-{seq}" }
stages:
  - { name: work, workers: 2, builtin: { op: passthrough } }
sinks:
  - { name: out, type: file, path: $OUT }
YAML
start_daemon "$T/c.yaml"
wait_for '[ "$(lines "$OUT")" -ge 20 ]' 60 || fail "no records in $OUT"

# logrotate: rename, then SIGUSR1. Records keep going to the renamed file until
# the reopen, then to a new file at the old path.
mv "$OUT" "$OUT.1"
# shellcheck disable=SC2034 # read by the wait_for condition below
n1=$(lines "$OUT.1")
wait_for '[ "$(lines "$OUT.1")" -gt "$n1" ]' 30 || fail "the renamed file stopped growing before SIGUSR1"
kill -USR1 "$DAEMON_PID"
wait_for '[ "$(lines "$OUT")" -ge 20 ]' 60 || fail "no records in the reopened $OUT"
assert_contains "$DAEMON_ERR" "received SIGUSR1: reopening output files"

# SIGUSR2: the counters, in the log.
kill -USR2 "$DAEMON_PID"
wait_for 'grep -aq "info: status: stage work: in=" "$DAEMON_ERR"' 30 || fail "no status in the log after SIGUSR2"
assert_contains "$DAEMON_ERR" "info: status: source gen: items="
assert_contains "$DAEMON_ERR" "info: status: sink out: written="

kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 120
assert_exit 0 $? "sluiced after SIGTERM"
check_accounting
written=$(summary_field sink out written)
assert_eq "$written" "$(($(lines "$OUT.1") + $(lines "$OUT")))" "records in both files = records written"
# One run of consecutive items, the old file's before the new file's.
cat "$OUT.1" "$OUT" | sed 's/^a-//' >"$T/seqs"
python3 - "$T/seqs" "$(lines "$OUT.1")" <<'PY' || fail "records lost, repeated or out of order across the rotation"
import sys
seqs = [int(x) for x in open(sys.argv[1])]
n_old = int(sys.argv[2])
assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "not one consecutive run"
assert n_old > 0 and len(seqs) > n_old, "one of the files is empty"
assert max(seqs[:n_old]) < min(seqs[n_old:]), "the old file has records from after the reopen"
PY

# journald: "<N>level: message", with N the syslog priority.
cat >"$T/job.yaml" <<YAML
name: job
sources:
  - { name: gen, type: generate, count: 5 }
stages:
  - name: work
    exec: { argv: [sh, -c, 'test "\$1" != 3', sh, "{}"], stdout: item }
sinks:
  - { name: out, type: discard }
YAML
JOURNAL_STREAM=8:123456 run_daemon "$T/job.yaml"
assert_exit 1 $? "a job with one failing item"
grep -aq '^<6>info: pipeline .job. running' "$DAEMON_ERR" || fail "no '<6>info: ' line under JOURNAL_STREAM"
grep -aqE '^<[34]>(warn|error): ' "$DAEMON_ERR" || fail "no '<4>warn: ' or '<3>error: ' line for the failed item"
bad=$(grep -aE '^(sluiced\[|<)' "$DAEMON_ERR" | grep -avE '^<(3>error|4>warn|6>info|7>debug): ' | head -3)
[ -z "$bad" ] || fail "log lines without a proper <N> prefix under JOURNAL_STREAM: $bad"

# --log-format json: every line is a JSON object: log lines with time, level, pid, msg
# (a failed item's also with stage, source and seq), the summary as one object.
run_daemon "$T/job.yaml" --log-format json
assert_exit 1 $? "the job with --log-format json"
python3 - "$DAEMON_ERR" <<'PY' || fail "--log-format json wrote a line that is not a JSON log object"
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    if line.startswith("sluiced["):
        raise SystemExit("a text log line: " + line)
    d = json.loads(line)
    if "summary" in d:
        assert d["summary"]["exit"] == 1 and d["summary"]["stages"], d
        summaries = globals().get("summaries", 0) + 1
        globals()["summaries"] = summaries
        continue
    if "failed (" in d.get("msg", ""):
        assert isinstance(d["seq"], int) and d["stage"] and d["source"], d
    assert set(d) >= {"time", "level", "pid", "msg"}, d
    assert d["level"] in ("error", "warn", "info", "debug"), d
    n += 1
assert n >= 2, "too few JSON log lines: %d" % n
assert globals().get("summaries") == 1, "no JSON summary"
PY
# Config errors too: one JSON object each, with file, line and col as fields.
printf 'sources:\n  - {name: g, typo: generate}\nsinks:\n  - {name: o, type: stdout}\n' >"$T/bad.yaml"
"$SLUICED" --log-format json --check -c "$T/bad.yaml" >/dev/null 2>"$T/bad.err"
assert_exit 78 $? "--check of a bad config with --log-format json"
python3 - "$T/bad.err" "$T/bad.yaml" <<'PY' || fail "config errors with --log-format json: $(cat "$T/bad.err")"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 2, lines
for l in lines:
    d = json.loads(l)
    assert d["level"] == "error" and d["file"] == sys.argv[2] and d["line"] == 2, d
assert "did you mean 'type'" in json.loads(lines[1])["msg"], lines
PY

assert_no_leftovers 10
exit 0
