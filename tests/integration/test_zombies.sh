#!/usr/bin/env bash
# Thousands of exec items: every child is reaped (no zombie lingers while the
# daemon runs, none piles up), and no child is left after exit.
. "$(dirname "$0")/../lib.sh"

N=2000
mkfifo "$T/in.fifo"
cat >"$T/c.yaml" <<YAML
sources:
  - { name: in, type: stdin }
stages:
  - name: run
    workers: 4
    exec: { argv: ["true"], stdout: item }
  - name: run2
    workers: 2
    exec: { argv: [sh, -c, 'test "\$1" -gt 0 && echo "\$1"', sh, "{}"], stdout: result }
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML
DAEMON_STDIN=$T/in.fifo start_daemon "$T/c.yaml"
exec 3>"$T/in.fifo"
seq 1 "$N" >&3

# While it runs: sample the daemon's zombie children; they must never pile up.
max_z=0
sample() {
	local z
	z=$(zombie_children "$DAEMON_PID" | wc -w)
	[ "$z" -gt "$max_z" ] && max_z=$z
	[ "$(lines "$T/out.txt")" -ge "$N" ]
}
wait_for sample $((60 * SCALE)) || fail "only $(lines "$T/out.txt") of $N items reached the sink"
note "most zombie children seen at once while running: $max_z"
assert_le "$max_z" 50 "zombie children of the daemon seen at once (4+2 workers)"
# All items done, daemon still running (stdin open): no zombie may remain.
wait_for '[ -z "$(zombie_children "$DAEMON_PID")" ]' 10 ||
	fail "zombie children remain after all items are done: $(zombie_children "$DAEMON_PID")"
kids=$(children_of "$DAEMON_PID")
# shellcheck disable=SC2086 # one argument per pid
[ -z "$kids" ] || { show_pids $kids; fail "the idle daemon still has children: $kids"; }

exec 3>&-
wait_exit "$DAEMON_PID" 60
rc=$?
assert_exit 0 "$rc" "sluiced after stdin closed"
check_accounting
assert_eq "$N" "$(summary_field run ok)" "stage run ok"
assert_eq "$N" "$(summary_field run2 ok)" "stage run2 ok"
seq 1 "$N" >"$T/want.txt"
sort -n "$T/out.txt" >"$T/out.sorted"
assert_file_eq "$T/want.txt" "$T/out.sorted" "output (as a set)"
assert_no_leftovers 10
exit 0
