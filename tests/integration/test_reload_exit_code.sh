#!/usr/bin/env bash
# The exit code after a structural reload covers every pipeline, not only the
# last one: a job whose old pipeline failed an item (then was replaced by a
# reload) exits 1 even though the new pipeline failed nothing; the same job
# without a failure exits 0. Every other item is written exactly once.
. "$(dirname "$0")/../lib.sh"
. "$PYHELPERS/reload.sh"

N=300
SOCK=$T/ctl.sock
seq 1 "$N" >"$T/in.txt"

write_conf() { # RUN STAGE-ARGV
	cat >"$T/c.yaml" <<YAML
name: rl-exit
queue: { capacity: 10 }
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: work
    workers: 2
    exec: { argv: $2 }
sinks:
  - { name: out, type: file, path: $T/out-$1.txt }
control: { socket: $SOCK }
YAML
}

# run_job RUN FAIL_ITEM: the old stage fails FAIL_ITEM (0: none); reload mid-job.
run_job() {
	local run=$1 bad=$2
	write_conf "$run" "[sh, -c, 'sleep 0.01; [ \"\$1\" != $bad ] || exit 1; echo \"old \$1\"', sh, \"{}\"]"
	start_daemon "$T/c.yaml"
	wait_running '[ "$(lines "$T/out-$run.txt")" -ge 20 ] && [ -S "$SOCK" ]' $((30 * SCALE)) ||
		fail "run $run: the job did not get going"
	if [ "$bad" != 0 ]; then
		wait_running 'grep -aq "exit status 1" "$DAEMON_ERR"' $((30 * SCALE)) ||
			fail "run $run: item $bad did not fail in the old pipeline"
	fi
	write_conf "$run" "[sh, -c, 'echo \"new \$1\"', sh, \"{}\"]"
	reload_ctl "$SOCK"
	assert_le "$(lines "$T/out-$run.txt")" $((N - 50)) "run $run: lines in the sink at the reload (test too slow?)"
	wait_exit "$DAEMON_PID" $((60 * SCALE))
}

run_job 1 7
assert_exit 1 $? "sluiced: the old pipeline failed an item"
check_accounting
# The error report at exit covers both pipelines (one report per run).
assert_contains "$DAEMON_ERR" "error report: 1 item(s) failed" "the summary's error report"
grep -aq '^    item [0-9]* "7"' "$DAEMON_ERR" || fail "the error report does not name the failed item 7"
grep -a "previous pipeline" "$DAEMON_ERR" | grep -aq finished ||
	fail "the daemon never logged that the previous pipeline finished"
awk '$1 != 7' "$T/in.txt" >"$T/want1.txt"
cut -d' ' -f2 "$T/out-1.txt" | sort -n >"$T/got1.txt"
assert_file_eq "$T/want1.txt" "$T/got1.txt" "run 1: the items written (all but the failed one, once each)"
assert_ge "$(grep -ac '^new ' "$T/out-1.txt")" 1 "run 1: items through the new stage"

run_job 2 0
assert_exit 0 $? "sluiced: nothing failed in either pipeline"
check_accounting
cut -d' ' -f2 "$T/out-2.txt" | sort -n >"$T/got2.txt"
assert_file_eq "$T/in.txt" "$T/got2.txt" "run 2: every item, once"
assert_no_leftovers 10
exit 0
