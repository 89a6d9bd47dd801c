#!/usr/bin/env bash
# joblog: PATH records one tab-separated line per finished item (header
# "Seq Source Index Stage Start Duration Attempts Outcome Exitval Signal").
# `sluiced --resume` skips the items the joblog records as done: a file-source job
# interrupted by SIGTERM part-way (small grace: it cancels; no spool) and
# restarted with --resume processes each input line exactly once over the two
# runs. Without --resume, a run truncates the joblog and redoes everything.
# --resume without a joblog in the config is a usage error (64).
. "$(dirname "$0")/../lib.sh"

HEADER=$(printf 'Seq\tSource\tIndex\tStage\tStart\tDuration\tAttempts\tOutcome\tExitval\tSignal')
seq -f 'L%03g' 1 200 >"$T/in.txt"
# conf OUT [nopause]: the stage sleeps 50 ms an item, so that a SIGTERM finds
# run 1 part-way; the runs after it (--resume, a fresh run) need no pause.
conf() { # OUT [nopause]
	local pause="sleep 0.05;"
	[ "${2:-}" = nopause ] && pause=
	cat <<YAML
joblog: $T/job.log
shutdown: { grace: 100ms, kill_after: 5s }
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: work
    workers: 2
    # SIGTERM ignored: an item running at the cancel ends normally (well within
    # kill_after), so \$T/done says exactly which items ran to their end.
    exec: { argv: [sh, -c, 'trap "" TERM; $pause echo "\$1" >>$T/done; echo "\$1"', sh, "{}"] }
sinks:
  - { name: out, type: file, path: $1 }
YAML
}

# check_joblog FILE: the header, then well-formed data lines; prints their count.
check_joblog() {
	python3 - "$1" "$HEADER" <<'PY'
import sys
path, header = sys.argv[1], sys.argv[2]
lines = open(path, "rb").read().decode().split("\n")
if lines and lines[-1] == "":
    lines.pop()
else:
    sys.exit("joblog: does not end with a newline")
if not lines or lines[0] != header:
    sys.exit("joblog: first line is not the header: %r" % (lines[:1],))
n = 0
for i, l in enumerate(lines[1:], 2):
    f = l.split("\t")
    if len(f) != 10:
        sys.exit("joblog:%d: %d fields, expected 10: %r" % (i, len(f), l))
    seq, source, index, stage, start, dur, attempts, outcome, exitval, sig = f
    try:
        assert int(seq) >= 1 and int(index) >= 1 and int(attempts) >= 1
        assert float(start) > 1e9 and float(dur) >= 0
        assert outcome != ""
    except (ValueError, AssertionError):
        sys.exit("joblog:%d: malformed: %r" % (i, l))
    if l.startswith("Seq"):
        sys.exit("joblog:%d: a second header" % i)
    n += 1
print(n)
PY
}

# Run 1: interrupted part-way.
conf "$T/out1.txt" >"$T/c.yaml"
start_daemon "$T/c.yaml"
wait_for '[ "$(lines "$T/out1.txt")" -ge 20 ]' 60 || fail "run 1: no progress: $(lines "$T/out1.txt") lines"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
rc=$?
assert_exit 75 "$rc" "run 1: sluiced (SIGTERM; the grace passes; no spool)"
check_accounting
assert_no_leftovers 10
cp "$DAEMON_ERR" "$T/run1.err"
n1=$(check_joblog "$T/job.log") || fail "run 1: joblog malformed: $n1"
out1=$(lines "$T/out1.txt")
[ "$out1" -lt 200 ] || fail "run 1: every item finished before the SIGTERM took effect; nothing left to resume"
assert_eq "$out1" "$n1" "run 1: joblog data lines = items written"
# Every data line: source in, stage work, attempts 1, exit value 0.
awk -F'\t' 'NR > 1 && ($2 != "in" || $4 != "work" || $7 != 1 || $9 != 0) { print; exit 1 }' "$T/job.log" ||
	fail "run 1: unexpected joblog line: $(awk -F'\t' 'NR > 1 && ($2 != "in" || $4 != "work" || $7 != 1 || $9 != 0)' "$T/job.log" | head -1)"
# The indexes name the items written (line N of the input is index N).
awk -F'\t' 'NR > 1 { print $3 }' "$T/job.log" | sort -n >"$T/idx1.txt"
sed 's/^L0*//' "$T/out1.txt" | sort -n >"$T/outidx1.txt"
assert_file_eq "$T/outidx1.txt" "$T/idx1.txt" "run 1: joblog indexes vs the items written"

# Run 2: --resume does the rest, each remaining line once.
conf "$T/out2.txt" nopause >"$T/c.yaml"
run_daemon "$T/c.yaml" --resume
rc=$?
assert_exit 0 "$rc" "run 2: sluiced --resume"
check_accounting
assert_eq "$out1" "$(summary_field source in skipped)" "run 2: source in skipped (the items done in run 1)"
assert_eq "$((200 - out1))" "$(summary_field source in items)" "run 2: source in items"
cat "$T/out1.txt" "$T/out2.txt" | sort >"$T/both.txt"
assert_file_eq "$T/in.txt" "$T/both.txt" "runs 1 + 2: every input line written exactly once"
sort "$T/done" >"$T/done.sorted"
assert_file_eq "$T/in.txt" "$T/done.sorted" "runs 1 + 2: every input line processed to its end exactly once"
n2=$(check_joblog "$T/job.log") || fail "run 2: joblog malformed: $n2"
assert_eq 200 "$n2" "run 2: joblog data lines (appended to run 1's)"
assert_eq 200 "$(awk -F'\t' 'NR > 1 { print $3 }' "$T/job.log" | sort -u | wc -l)" "run 2: distinct indexes in the joblog"

# Run 3: --resume again: nothing left to do.
conf "$T/out3.txt" nopause >"$T/c.yaml"
run_daemon "$T/c.yaml" --resume
rc=$?
assert_exit 0 "$rc" "run 3: sluiced --resume with everything done"
check_accounting
assert_eq 200 "$(summary_field source in skipped)" "run 3: skipped"
assert_eq 0 "$(summary_field source in items)" "run 3: items"
assert_eq 0 "$(lines "$T/out3.txt")" "run 3: lines written"

# Run 4: without --resume: the joblog starts afresh, everything is redone.
rm -f "$T/done"
conf "$T/out4.txt" nopause >"$T/c.yaml"
run_daemon "$T/c.yaml"
rc=$?
assert_exit 0 "$rc" "run 4: sluiced without --resume"
check_accounting
assert_eq 0 "$(summary_field source in skipped)" "run 4: skipped"
sort "$T/out4.txt" >"$T/out4.sorted"
assert_file_eq "$T/in.txt" "$T/out4.sorted" "run 4: everything redone"
n4=$(check_joblog "$T/job.log") || fail "run 4: joblog malformed: $n4"
assert_eq 200 "$n4" "run 4: joblog data lines (truncated, then this run's)"

# --resume without a joblog in the config: exit 64, nothing run.
sed '/^joblog:/d' "$T/c.yaml" >"$T/nolog.yaml"
rm -f "$T/done"
run_daemon "$T/nolog.yaml" --resume
rc=$?
assert_exit 64 "$rc" "sluiced --resume without a joblog"
grep -aqi 'joblog' "$DAEMON_ERR" || fail "--resume without a joblog: the message does not mention the joblog"
[ ! -e "$T/done" ] || fail "--resume without a joblog: items were processed"

# Failures and retries in the joblog: attempts and exit value.
printf 'good\nflaky\nbad\n' >"$T/in5.txt"
cat >"$T/c5.yaml" <<YAML
joblog: $T/job5.log
sources:
  - { name: in, type: file, path: $T/in5.txt }
stages:
  - name: work
    retry: { attempts: 2, backoff: 10ms, max_backoff: 10ms }
    exec: { argv: [sh, -c, 'case \$1 in bad) exit 3 ;; flaky) [ -e $T/flaky ] || { : >$T/flaky; exit 4; } ;; esac; echo "\$1"', sh, "{}"] }
sinks:
  - { name: out, type: file, path: $T/out5.txt }
YAML
run_daemon "$T/c5.yaml"
rc=$?
assert_exit 1 "$rc" "sluiced (joblog with a failure)"
check_accounting
n5=$(check_joblog "$T/job5.log") || fail "failures: joblog malformed: $n5"
assert_eq 3 "$n5" "failures: joblog data lines"
row() { awk -F'\t' -v i="$1" 'NR > 1 && $3 == i { print $7, $9 }' "$T/job5.log"; }
assert_eq "1 0" "$(row 1)" "failures: joblog attempts and exit value of 'good'"
assert_eq "2 0" "$(row 2)" "failures: joblog attempts and exit value of 'flaky'"
assert_eq "2 3" "$(row 3)" "failures: joblog attempts and exit value of 'bad'"
ok_outcome=$(awk -F'\t' 'NR > 1 && $3 == 1 { print $8 }' "$T/job5.log")
bad_outcome=$(awk -F'\t' 'NR > 1 && $3 == 3 { print $8 }' "$T/job5.log")
assert_ne "$ok_outcome" "$bad_outcome" "failures: the joblog outcome of a failed item (vs a good one)"
exit 0
