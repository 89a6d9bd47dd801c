#!/usr/bin/env bash
# A job (every source finite) stopped by SIGINT/SIGTERM before its sources ended
# did not succeed: the drain finishes what was read, then exit 75, and the
# summary says how much input was never read and to use --resume (a pipe:
# test_sigterm_drain). A job whose input was all read when the signal came
# drains to exit 0, and so does a service (an endless source) at a graceful stop.
. "$(dirname "$0")/../lib.sh"

slow_stage() { # one item every ~10 ms per worker
	cat <<YAML
stages:
  - name: work
    workers: 2
    queue: { capacity: 20 }
    exec: { argv: [sh, -c, 'sleep 0.01; echo "\$1"', sh, "{}"] }
YAML
}

# --- A file job, SIGINT part-way: 75, the records never read, --resume does the rest.
# 300 records: the queues (20 items) hold the source back to a few dozen read
# when the signal comes, and --resume does the rest one process at a time.
N=300
seq -f 'L%04g' 1 "$N" >"$T/in.txt"
{
	echo "joblog: $T/job.log"
	echo "sources: [{ name: in, type: file, path: $T/in.txt }]"
	slow_stage
	echo "sinks: [{ name: out, type: file, path: $T/out.txt }]"
} >"$T/file.yaml"
start_daemon "$T/file.yaml"
wait_for '[ "$(lines "$T/out.txt")" -ge 20 ]' 60 || fail "file: no progress"
kill -INT "$DAEMON_PID"
wait_exit "$DAEMON_PID" 120
rc=$?
assert_exit 75 "$rc" "file job after SIGINT part-way"
check_accounting
assert_no_leftovers 10
grep -aq '^summary: .* exit=75 (stopped before its input ended)' "$DAEMON_ERR" || fail "file: summary line"
read1=$(summary_field source in items)
[ "$read1" -lt "$N" ] || fail "file: every record was read before the SIGINT took effect"
assert_eq "$read1" "$(lines "$T/out.txt")" "file: every record read was written"
assert_contains "$DAEMON_ERR" "not read: source in: $((N - read1)) records" "file: the records never read"
assert_contains "$DAEMON_ERR" "run it again with --resume" "file: the hint"
run_daemon "$T/file.yaml" --resume
assert_exit 0 $? "file job, --resume"
assert_eq "$read1" "$(summary_field source in skipped)" "file --resume: records skipped"
assert_not_contains "$DAEMON_ERR" "not read:" "file --resume: nothing left"
sort "$T/out.txt" >"$T/out.sorted"
assert_file_eq "$T/in.txt" "$T/out.sorted" "file: both runs together wrote each record once"

# --- A generator with a count, SIGTERM part-way: its count says what is left.
{
	echo "sources: [{ name: gen, type: generate, count: 3000, template: 'g{seq}' }]"
	slow_stage
	echo "sinks: [{ name: out, type: file, path: $T/gen.txt }]"
} >"$T/gen.yaml"
start_daemon "$T/gen.yaml"
wait_for '[ "$(lines "$T/gen.txt")" -ge 20 ]' 60 || fail "generate: no progress"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 120
assert_exit 75 $? "generate job after SIGTERM part-way"
n=$(summary_field source gen items)
assert_contains "$DAEMON_ERR" "not read: source gen: $((3000 - n)) records" "generate: the items never made"
assert_contains "$DAEMON_ERR" "a new run starts over (with a joblog, --resume would do only the rest)" \
	"generate: the hint without a joblog"

# --- Every record already read when the signal comes: the drain completes the job.
seq 1 30 >"$T/small.txt"
{
	echo "sources: [{ name: in, type: file, path: $T/small.txt }]"
	echo "stages: [{ name: work, workers: 1, exec: { argv: [sh, -c, 'sleep 0.1; echo \"\$1\"', sh, '{}'] } }]"
	echo "sinks: [{ name: out, type: file, path: $T/small.out }]"
} >"$T/small.yaml"
start_daemon "$T/small.yaml"
wait_for '[ "$(lines "$T/small.out")" -ge 2 ]' 60 || fail "small: no progress"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 120
assert_exit 0 $? "a job whose input was all read, after SIGTERM"
assert_eq 30 "$(lines "$T/small.out")" "small: every record written"
assert_not_contains "$DAEMON_ERR" "not read:" "small: nothing left"

# --- A service (an endless generator): a graceful stop is a success.
{
	echo "sources: [{ name: gen, type: generate, template: 's{seq}' }]"
	slow_stage
	echo "sinks: [{ name: out, type: file, path: $T/svc.txt }]"
} >"$T/svc.yaml"
start_daemon "$T/svc.yaml"
wait_for '[ "$(lines "$T/svc.txt")" -ge 20 ]' 60 || fail "service: no progress"
kill -INT "$DAEMON_PID"
wait_exit "$DAEMON_PID" 120
assert_exit 0 $? "a service after SIGINT"
assert_not_contains "$DAEMON_ERR" "not read:" "service: no unread report"
exit 0
