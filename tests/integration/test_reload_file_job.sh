#!/usr/bin/env bash
# A structural reload (`sluicectl reload`) in the middle of a job: a file source
# (not followed) read under backpressure (small queues) into a slow co-process
# stage. The reload removes a stage and changes the co-process's command; the
# file source's block is unchanged. It proves:
#  * sluicectl reload exits 0 with "reloaded", the log says "structure changed",
#    and later "previous pipeline ... finished";
#  * the file source is moved with its position: the file is not read again
#    (every line reaches the sink exactly once), part of it through the old
#    command and the rest through the new one;
#  * the job still ends by itself at the end of the file, exit 0.
. "$(dirname "$0")/../lib.sh"
. "$PYHELPERS/reload.sh"

N=4000
SOCK=$T/ctl.sock
seq 1 "$N" >"$T/in.txt"
# A co-process taking ~2 ms an item, answering "TAG ITEM".
cat >"$T/slow.py" <<'PY'
import sys, time
tag = sys.argv[1]
for line in sys.stdin:
    time.sleep(0.002)
    sys.stdout.write(tag + " " + line)
    sys.stdout.flush()
PY

conf_old() {
	cat >"$T/c.yaml" <<YAML
name: rl-job
queue: { capacity: 20 }
shutdown: { grace: 60s, kill_after: 2s }
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - { name: pre, builtin: { op: passthrough } }
  - name: slow
    workers: 2
    coprocess: { argv: [python3, -u, $T/slow.py, old] }
sinks:
  - { name: out, type: file, path: $T/out.txt }
control: { socket: $SOCK }
YAML
}
conf_new() { # the stage 'pre' is gone, 'slow' tags with "new"
	cat >"$T/c.yaml" <<YAML
name: rl-job
queue: { capacity: 20 }
shutdown: { grace: 60s, kill_after: 2s }
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: slow
    workers: 2
    coprocess: { argv: [python3, -u, $T/slow.py, new] }
sinks:
  - { name: out, type: file, path: $T/out.txt }
control: { socket: $SOCK }
YAML
}

conf_old
start_daemon "$T/c.yaml"
wait_running '[ "$(lines "$T/out.txt")" -ge 400 ] && [ -S "$SOCK" ]' $((30 * SCALE)) ||
	fail "the job did not get going: $(lines "$T/out.txt") lines in the sink"
conf_new
# Counted before the request: once it is applied, the new command may write at once.
at_reload=$(lines "$T/out.txt")
reload_ctl "$SOCK"
note "reload requested with $at_reload of $N lines in the sink"
assert_le "$at_reload" $((N - 1000)) "lines in the sink at the reload (the job must still be running: test too slow?)"

wait_exit "$DAEMON_PID" $((60 * SCALE))
assert_exit 0 $? "sluiced at the end of the job"
check_accounting
assert_contains "$DAEMON_ERR" "structure changed" "log"
grep -a "previous pipeline" "$DAEMON_ERR" | grep -aq finished ||
	fail "the daemon never logged that the previous pipeline finished"
assert_no_leftovers 10

assert_eq "$N" "$(lines "$T/out.txt")" "lines in the sink"
cut -d' ' -f2 "$T/out.txt" | sort -n >"$T/got.txt"
uniq -d "$T/got.txt" >"$T/dups.txt"
[ ! -s "$T/dups.txt" ] || fail "lines written twice (the file was read again?): $(head -5 "$T/dups.txt" | tr '\n' ' ')"
assert_file_eq "$T/in.txt" "$T/got.txt" "the lines in the sink (sorted)"
assert_eq 0 "$(grep -avcE '^(old|new) [0-9]+$' "$T/out.txt")" "lines not tagged 'old N' or 'new N'"
assert_ge "$(grep -ac '^old ' "$T/out.txt")" "$at_reload" "lines through the old command"
# Backpressure holds all but a few dozen lines in the file at the reload: the
# rest goes through the new command.
assert_ge "$(grep -ac '^new ' "$T/out.txt")" 900 "lines through the new command"
exit 0
