#!/usr/bin/env bash
# Many structural reloads in a row, each waited out (the verdict logged, then the
# previous pipeline finished): memory stays flat, since a retired pipeline is
# freed once it has finished. RELOADS (default 300) sets how many.
. "$(dirname "$0")/../lib.sh"
. "$PYHELPERS/reload.sh"

# Under ASan freed memory sits in a quarantine: keep it small so RSS means something.
[ "$SLUICE_SAN" = 1 ] && export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=4:thread_local_quarantine_size_kb=64"

RELOADS=${RELOADS:-300}
WARMUP=20

# The rounds fork as little as they can (a fork costs 10-20 ms on a loaded
# machine, and a round used to make nine): the file is written by the shell
# itself, in place (sluiced reads it at the start and at a SIGHUP, both after
# the write), and one grep a poll counts what a round waits for.
write_conf() { # PATTERN: a new grep pattern changes the structure
	printf '%s\n' "name: rl-rss" "sources:" \
		'  - { name: feed, type: generate, interval: 5ms, template: "item-{seq}" }' \
		"stages:" "  - { name: keep, builtin: { op: grep, pattern: \"$1\" } }" \
		"sinks:" "  - { name: out, type: file, path: $T/out.txt }" >"$T/c.yaml"
}

write_conf 'item-[0-9]*0$$'
start_daemon "$T/c.yaml"
wait_running '[ "$(lines "$T/out.txt")" -ge 2 ]' 30 || fail "the first pipeline did not get going"
# One condition per reload (the previous pipeline finished) keeps each round short;
# a refused reload ends the wait at once too (it is one of the lines counted).
# shellcheck disable=SC2034 # used in the condition wait_for evals
FINISHED_OR_REFUSED='reload: the previous pipeline .* finished|reload:.*(needs a restart|has errors)'
for ((i = 1; i <= RELOADS; i++)); do
	write_conf "item-[0-9]*$((i % 10))\$\$"
	kill -HUP "$DAEMON_PID"
	wait_for '[ "$(grep -acE "$FINISHED_OR_REFUSED" "$DAEMON_ERR")" -ge '"$i"' ] || ! _alive $DAEMON_PID' 30 &&
		_alive "$DAEMON_PID" || fail "reload $i: the previous pipeline did not finish within 30 s"
	if [ "$i" = "$WARMUP" ]; then
		rss1=$(rss_kb "$DAEMON_PID")
	fi
done
refused=$(grep -aE "reload:.*(needs a restart|has errors)" "$DAEMON_ERR" | head -n 1)
[ -z "$refused" ] || fail "a reload was refused: $refused"
assert_eq "$RELOADS" "$(grep -ac 'reload: .*structure changed.*starting a new pipeline' "$DAEMON_ERR")" "structural reloads applied"
rss2=$(rss_kb "$DAEMON_PID")
note "VmRSS after $WARMUP reloads: ${rss1} KiB; after $RELOADS: ${rss2} KiB"
slack=1024
[ "$SLUICE_SAN" = 1 ] && slack=8192
assert_le "$rss2" $((rss1 + slack)) "VmRSS (KiB) after $RELOADS structural reloads, given ${rss1} KiB after $WARMUP"

n=$(lines "$T/out.txt")
wait_running '[ "$(lines "$T/out.txt")" -ge $((n + 2)) ]' 30 || fail "the last pipeline does not write"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "sluiced after SIGTERM"
check_accounting
exit 0
