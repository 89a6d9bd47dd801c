# shellcheck shell=bash
# tests/helpers/reload.sh: sourced by the test_reload_* tests, after tests/lib.sh.
#
#   reload_sighup              SIGHUP to $DAEMON_PID, then wait for the daemon's
#                              verdict on it; fails the test unless it applied a
#                              structural reload (a log line with "reload:" and
#                              "structure changed")
#   reload_ctl SOCKET          the same through `sluicectl -s SOCKET reload`: it must
#                              exit 0 with "reloaded" in its reply, and the log
#                              must say "structure changed"
#   wait_previous_finished [COUNT] [TIMEOUT_S]
#                              wait for COUNT (default 1) log lines saying the
#                              previous pipeline finished ("previous pipeline" ...
#                              "finished")
#   count_children_named NAME  marked processes whose command (argv[0]'s base
#                              name) is NAME
#   wait_running 'COND' [TIMEOUT_S]
#                              wait_for COND, giving up at once if the daemon exits
#   unfinished_in_stages       sum of in_flight + queued over the summary's stages

# The verdicts a reload can end with, as logged. A refusal ("needs a restart",
# errors) ends the wait at once, so a daemon without structural reload fails fast.
_RELOAD_VERDICT='reload:.*(structure changed|needs a restart|has errors)'

# _reload_wait_verdict FROM_LINE: the first verdict logged after line FROM_LINE.
_reload_wait_verdict() {
	local from=$1 line
	wait_running "tail -n +$((from + 1)) \"\$DAEMON_ERR\" | grep -aqE '$_RELOAD_VERDICT'" $((30 * SCALE)) ||
		fail "no verdict logged within $((30 * SCALE))s after the reload request"
	line=$(tail -n +$((from + 1)) "$DAEMON_ERR" | grep -aE "$_RELOAD_VERDICT" | head -n 1)
	case $line in
	*"structure changed"*) note "reload: $(echo "$line" | cut -c1-200)" ;;
	*) fail "the structural reload was not applied: $line" ;;
	esac
}

reload_sighup() {
	local from
	from=$(lines "$DAEMON_ERR")
	send_signal "$DAEMON_PID" HUP
	_reload_wait_verdict "$from"
}

reload_ctl() { # SOCKET
	local from ctl rc
	ctl=$(dirname "$SLUICED")/sluicectl
	[ -x "$ctl" ] || fail "no sluicectl next to $SLUICED"
	from=$(lines "$DAEMON_ERR")
	"$ctl" -s "$1" reload >"$T/reload.reply" 2>&1
	rc=$?
	[ "$rc" -eq 0 ] || fail "sluicectl reload: exit $rc: $(cat "$T/reload.reply")"
	assert_contains "$T/reload.reply" "reloaded" "sluicectl reload's reply"
	_reload_wait_verdict "$from"
}

# shellcheck disable=SC2120 # both arguments are optional
wait_previous_finished() { # [COUNT] [TIMEOUT_S]
	local n=${1:-1}
	wait_running '[ "$(grep -a "previous pipeline" "$DAEMON_ERR" | grep -ac "finished")" -ge '"$n"' ]' "${2:-$((30 * SCALE))}" ||
		fail "the daemon did not log that the previous pipeline finished (expected $n such line(s), got $(grep -a "previous pipeline" "$DAEMON_ERR" | grep -ac "finished"))"
}

count_children_named() { # NAME
	local p n=0 a0
	for p in $(marked_children); do
		a0=$(tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | head -n 1)
		[ "${a0##*/}" = "$1" ] && n=$((n + 1))
	done
	echo "$n"
}

# wait_running 'COND' [TIMEOUT_S]: wait_for, but gives up at once if the daemon
# exits (a test waiting on a dead daemon fails fast, with its stderr shown).
wait_running() {
	wait_for "{ $1; } || ! _alive \$DAEMON_PID" "${2:-30}" && eval "$1"
}

# unfinished_in_stages: the sum of in_flight + queued over the stage lines of the
# summary, i.e. what the summary says was left unfinished in the stages (after a
# cancel these are the items the "unfinished:" line spooled or lost).
unfinished_in_stages() {
	awk '/^stage [^ ]*: in=/ {
		for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "in_flight" || kv[1] == "queued") n += kv[2] }
	} END { print n + 0 }' "${SUMMARY_FILE:-$DAEMON_ERR}"
}
