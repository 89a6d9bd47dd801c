#!/usr/bin/env bash
# Reloads in a row, each before the previous pipeline has drained: a chain of
# pipelines draining behind one another.
#  A. Reload 1 changes the sink (out-0 -> out-1) while the first pipeline's slow
#     stage still holds items; reload 2 then changes only the stage. The sink of
#     reload 1 (now shared with pipeline 3) must not start writing before out-0 is
#     closed; every item ends up in out-0 or out-1 exactly once; every previous
#     pipeline finishes; SIGTERM exits 0.
#  B. Three reloads that each change the sink (out-a -> b -> c -> d): the same,
#     over four files.
. "$(dirname "$0")/../lib.sh"
. "$PYHELPERS/reload.sh"

write_conf() { # OUT TAG SLOW_SECONDS
	cat >"$T/c.yaml" <<YAML
name: rl-chain
shutdown: { grace: 60s, kill_after: 2s }
queue: { capacity: 4 }
sources:
  - { name: feed, type: generate, interval: 20ms, template: "item-{seq}" }
stages:
  - name: work
    workers: 2
    queue: { capacity: 4 }
    exec: { argv: [sh, -c, 'sleep $3; echo "\$1 $2"', sh, "{}"] }
sinks:
  - { name: out, type: file, path: $T/$1 }
YAML
}

# A watcher: a file gets no data while the daemon still has the one before it
# open (the sinks of a reload start once the old ones are closed).
watch_order() { # FILES... (in the order the reloads use them)
	local f prev
	while kill -0 "$DAEMON_PID" 2>/dev/null; do
		prev=
		for f in "$@"; do
			# shellcheck disable=SC2010 # ls -l shows where each fd's link points
			if [ -n "$prev" ] && [ -s "$T/$f" ] &&
				ls -l "/proc/$DAEMON_PID/fd" 2>/dev/null | grep -q " $T/$prev\$"; then
				echo "$f written while $prev is open" >>"$T/overlap"
			fi
			prev=$f
		done
		sleep 0.02
	done
}

# check FILES...: each item once over the files, none torn; items numbered from 1.
check_items() {
	cat "${@/#/$T/}" | awk '{ print $1 }' | sort >"$T/got"
	uniq -d "$T/got" >"$T/dups"
	[ ! -s "$T/dups" ] || fail "items written twice: $(head -3 "$T/dups" | tr '\n' ' ')"
	[ "$(grep -avcE '^item-[0-9]+ [a-z0-9]+$' <(cat "${@/#/$T/}"))" = 0 ] || fail "malformed lines"
	n=$(lines "$T/got")
	max=$(sed 's/item-//' "$T/got" | sort -n | tail -1)
	assert_eq "$max" "$n" "items written (numbered 1..N, none missing)"
}

# --- A.
write_conf out-0 p0 0.5
start_daemon "$T/c.yaml"
watch_order out-0 out-1 &
wait_running '[ "$(lines "$T/out-0")" -ge 4 ]' 30 || fail "A: the first pipeline did not get going"
write_conf out-1 p1 0.5
reload_sighup
write_conf out-1 p2 0
reload_sighup
wait_previous_finished 2 60
n=$(lines "$T/out-1")
wait_running '[ "$(lines "$T/out-1")" -ge $((n + 10)) ]' 30 || fail "A: the last pipeline does not write"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "A: sluiced after SIGTERM"
check_accounting
[ ! -e "$T/overlap" ] || fail "A: the two files were open at once: $(head -1 "$T/overlap")"
check_items out-0 out-1
grep -aq ' p2$' "$T/out-1" || fail "A: nothing went through the last stage"

# --- B.
rm -f "$T"/out-* "$T/overlap"
write_conf out-a a 0.5
start_daemon "$T/c.yaml"
watch_order out-a out-b out-c out-d &
wait_running '[ "$(lines "$T/out-a")" -ge 4 ]' 30 || fail "B: the first pipeline did not get going"
for f in b c d; do
	write_conf "out-$f" "$f" 0.5
	reload_sighup
done
wait_previous_finished 3 90
n=$(lines "$T/out-d")
wait_running '[ "$(lines "$T/out-d")" -ge $((n + 10)) ]' 30 || fail "B: the last pipeline does not write"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "B: sluiced after SIGTERM"
check_accounting
[ ! -e "$T/overlap" ] || fail "B: two files were open at once: $(head -1 "$T/overlap")"
check_items out-a out-b out-c out-d
exit 0
