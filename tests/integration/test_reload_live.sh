#!/usr/bin/env bash
# Every key a reload applies in place (reload.c's live list) takes effect: for
# each one, a daemon runs with one value, the file is changed to another, SIGHUP
# must say "reloaded" (not a new structure), and the new value's effect is seen.
# Keys: a stage's workers, timeout, rate, on_failure, max_failures, retry
# (attempts, backoff, max_backoff); shutdown.grace and kill_after; log.level and
# log.format (the command line's -l and --log-format still win after a reload).
. "$(dirname "$0")/../lib.sh"
. "$PYHELPERS/reload.sh"

# conf [VAR=VALUE...]: writes $T/c.yaml with these settings changed.
conf() {
	local WORKERS=1 TIMEOUT=0s RATE='' ON_FAILURE=skip MAX_FAILURES='' ATTEMPTS=1 BACKOFF=100ms \
		MAX_BACKOFF=10s GRACE=100ms KILL_AFTER=1s LEVEL=info FORMAT=text INTERVAL=20ms \
		CMD='exec sleep 1000' WORK=
	[ $# -eq 0 ] || local "$@"
	: "${WORK:=exec: { argv: [sh, -c, '$CMD', sh, '{}'] \}}"
	cat >"$T/c.yaml" <<YAML
name: live
joblog: $T/job.log
log: { level: $LEVEL, format: $FORMAT }
shutdown: { grace: $GRACE, kill_after: $KILL_AFTER }
sources:
  - { name: gen, type: generate, interval: $INTERVAL, template: "i{seq}" }
stages:
  - name: work
    workers: $WORKERS
    timeout: $TIMEOUT
    on_failure: $ON_FAILURE
    $RATE
    $MAX_FAILURES
    retry: { attempts: $ATTEMPTS, backoff: $BACKOFF, max_backoff: $MAX_BACKOFF }
    $WORK
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML
}

# live_reload: SIGHUP; the daemon must apply the file in place.
live_reload() {
	local from=$(($(lines "$DAEMON_ERR") + 1)) verdict='reload: (reloaded|.*structure changed|.*restart|.*errors)'
	send_signal "$DAEMON_PID" HUP
	wait_running "tail -n +$from \"\$DAEMON_ERR\" | grep -aqE '$verdict'" $((30 * SCALE)) ||
		fail "no verdict on the reload"
	tail -n +"$from" "$DAEMON_ERR" | grep -aq "reload: reloaded '" ||
		fail "not applied in place: $(tail -n +"$from" "$DAEMON_ERR" | grep -aE "$verdict")"
}

# joblog_has COLUMN VALUE: a data line of the joblog has VALUE in COLUMN (1-based).
joblog_has() { awk -F'\t' -v c="$1" -v v="$2" 'NR > 1 && $c == v { f = 1 } END { exit !f }' "$T/job.log"; }

stop() { # SIGTERM; the exit code
	kill -TERM "$DAEMON_PID"
	wait_exit "$DAEMON_PID" $((60 * SCALE))
}

begin() { # NAME VAR=VALUE...: a fresh daemon on conf VAR=VALUE...
	note "$1"
	shift
	rm -f "$T/out.txt" "$T/job.log" "$T/flag"
	conf "$@"
	# shellcheck disable=SC2086 # ARGS is a list of options, or none
	start_daemon "$T/c.yaml" ${ARGS:-}
	wait_running 'grep -aq "running:" "$DAEMON_ERR" 2>/dev/null' $((30 * SCALE)) || fail "the daemon did not start"
}

# --- workers: 1 -> 3 running commands.
begin workers
wait_running '[ "$(children_of "$DAEMON_PID" | wc -w)" -ge 1 ]' 30 || fail "workers: nothing runs"
conf WORKERS=3
live_reload
wait_running '[ "$(children_of "$DAEMON_PID" | wc -w)" -ge 3 ]' $((30 * SCALE)) ||
	fail "workers: $(children_of "$DAEMON_PID" | wc -w) commands run after workers: 3"
stop

# --- timeout: none -> 300ms: the next items time out.
begin timeout WORKERS=2 CMD='sleep 3; echo "$1"'
conf WORKERS=2 CMD='sleep 3; echo "$1"' TIMEOUT=300ms
live_reload
wait_running 'grep -aq "timed out after 0.300s" "$DAEMON_ERR"' $((60 * SCALE)) || fail "timeout: no item timed out"
stop

# --- rate: 1/m -> 2000/s, at once (not after the minute the old rate put off).
begin rate RATE='rate: 1/m' INTERVAL=0s WORK='builtin: { op: passthrough }'
wait_running '[ "$(lines "$T/out.txt")" -ge 1 ]' 30 || fail "rate: nothing written"
conf RATE='rate: 2000/s' INTERVAL=0s WORK='builtin: { op: passthrough }'
live_reload
wait_running '[ "$(lines "$T/out.txt")" -ge 1000 ]' $((30 * SCALE)) ||
	fail "rate: $(lines "$T/out.txt") items written 30 s after rate: 2000/s"
stop

# --- on_failure: skip -> cancel: the next failure cancels the pipeline (exit 2).
begin on_failure CMD='exit 3'
wait_running 'joblog_has 8 "failed:exit"' 30 || fail "on_failure: no failure logged: $(tail -n 2 "$T/job.log")"
conf CMD='exit 3' ON_FAILURE=cancel
live_reload
wait_exit "$DAEMON_PID" $((30 * SCALE))
assert_exit 2 $? "on_failure: cancel after the reload"

# --- max_failures: none -> 3 (already passed): the next failure cancels (exit 2).
begin max_failures CMD='exit 3'
wait_running '[ "$(grep -ac failed: "$T/job.log")" -ge 5 ]' 30 || fail "max_failures: too few failures"
conf CMD='exit 3' MAX_FAILURES='max_failures: 3'
live_reload
wait_exit "$DAEMON_PID" $((30 * SCALE))
assert_exit 2 $? "max_failures: 3 after the reload"
assert_contains "$DAEMON_ERR" "passed its failure budget (max_failures: 3)" "max_failures: the reason"

# --- retry.attempts: 1 -> 3, seen in the joblog's Attempts column.
begin retry.attempts CMD='exit 3' BACKOFF=1ms
wait_running 'joblog_has 7 1' 30 || fail "retry.attempts: no item finished"
conf CMD='exit 3' BACKOFF=1ms ATTEMPTS=3
live_reload
wait_running 'joblog_has 7 3' $((30 * SCALE)) || fail "retry.attempts: no item took 3 attempts"
stop

# --- retry.backoff and retry.max_backoff, 1h -> 1ms: with failures starting after
# the reload, an item takes all its attempts at once (before, its retries waited
# up to 1h; with max_backoff, 30 attempts from 1ms doubling, up to 2^28 ms).
retry_case() { # KEY CHANGE VAR=VALUE...
	local key=$1 change=$2 attempts
	shift 2
	# shellcheck disable=SC2001 # picks one value out of the arguments, no plain replacement
	attempts=$(echo "$@" | sed 's/.*ATTEMPTS=\([0-9]*\).*/\1/')
	begin "$key" "$@" CMD="[ -e $T/flag ] && exit 3; echo \"\$1\""
	conf "$@" CMD="[ -e $T/flag ] && exit 3; echo \"\$1\"" "$change"
	live_reload
	touch "$T/flag"
	wait_running "joblog_has 7 $attempts" $((30 * SCALE)) || fail "$key: no item took its $attempts attempts"
	stop
}
retry_case retry.backoff BACKOFF=1ms ATTEMPTS=2 BACKOFF=1h MAX_BACKOFF=1h
retry_case retry.max_backoff MAX_BACKOFF=1ms ATTEMPTS=30 BACKOFF=1ms MAX_BACKOFF=1h

# --- shutdown.grace: 1h -> 300ms: a stop with work in flight cancels after it (75).
begin shutdown.grace GRACE=1h
wait_running '[ "$(children_of "$DAEMON_PID" | wc -w)" -ge 1 ]' 30 || fail "grace: nothing runs"
conf GRACE=300ms
live_reload
stop
assert_exit 75 $? "grace: the stop cancelled after the new grace"

# --- shutdown.kill_after: 1h -> 300ms: a command (an exec worker's, a co-process)
# that ignores SIGTERM is killed after the new kill_after, not given up on.
ignore_term='trap "" TERM; while :; do sleep 0.1; done'
for work in "exec: { argv: [sh, -c, '$ignore_term'] }" "coprocess: { argv: [sh, -c, '$ignore_term'] }"; do
	begin "shutdown.kill_after (${work%%:*})" KILL_AFTER=1h WORK="$work"
	wait_running '[ "$(children_of "$DAEMON_PID" | wc -w)" -ge 1 ]' 30 || fail "kill_after: nothing runs"
	conf KILL_AFTER=300ms WORK="$work"
	live_reload
	stop
	assert_exit 75 $? "kill_after (${work%%:*}): stopped"
	assert_not_contains "$DAEMON_ERR" "did not come back" "kill_after (${work%%:*}): work given up on"
done

# --- log.level: info -> debug (a retry is a debug line).
begin log.level CMD='exit 3' ATTEMPTS=2 BACKOFF=1ms
wait_running 'joblog_has 7 2' 30 || fail "log.level: no retry"
assert_not_contains "$DAEMON_ERR" "retrying in" "log.level: a debug line at level info"
conf CMD='exit 3' ATTEMPTS=2 BACKOFF=1ms LEVEL=debug
live_reload
wait_running 'grep -aq "debug: .*retrying in" "$DAEMON_ERR"' $((30 * SCALE)) || fail "log.level: no debug line"
stop

# --- log.format: text -> json -> text; the reload's own verdict is the first line in it.
begin log.format
conf FORMAT=json
live_reload
grep -aqE '^\{"time":[0-9.]+,"level":"info",.*"msg":"reload: reloaded ' "$DAEMON_ERR" ||
	fail "log.format: no JSON line after log.format: json"
conf FORMAT=text
live_reload
[ "$(grep -ac '^sluiced\[[0-9]*\]: info: reload: reloaded ' "$DAEMON_ERR")" = 1 ] ||
	fail "log.format: not text again after log.format: text"
stop

# --- The command line wins over the file, at a reload too.
ARGS='--log-format json -l debug' begin "command line" CMD='exit 3' ATTEMPTS=2 BACKOFF=1ms
conf CMD='exit 3' ATTEMPTS=2 BACKOFF=1ms WORKERS=2
live_reload
from=$(grep -an 'reload: reloaded' "$DAEMON_ERR" | cut -d: -f1)
wait_running "tail -n +$from \"\$DAEMON_ERR\" | grep -aq '\"level\":\"debug\".*retrying in'" $((30 * SCALE)) ||
	fail "command line: no JSON debug line after the reload"
tail -n +"$from" "$DAEMON_ERR" | grep -a -v '^summary:' | grep -aq '^sluiced\[' &&
	fail "command line: a text line after the reload"
stop
exit 0
