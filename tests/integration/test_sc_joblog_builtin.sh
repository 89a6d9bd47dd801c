#!/usr/bin/env bash
# joblog with a builtin stage as the last stage (passthrough, or grep keeping
# some items): every item that leaves the pipeline gets its joblog line, the job
# ends normally, and --resume then skips them all.
. "$(dirname "$0")/../lib.sh"

seq 1 30 >"$T/in.txt"
for op in 'op: passthrough' 'op: grep, pattern: "[05]$"'; do
	rm -f "$T/job.log" "$T/out.txt"
	cat >"$T/c.yaml" <<YAML
joblog: $T/job.log
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: run
    workers: 2
    exec: { argv: [echo, "{}"] }
  - name: last
    builtin: { $op }
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML
	run_daemon "$T/c.yaml"
	rc=$?
	assert_exit 0 "$rc" "sluiced (joblog; last stage builtin { $op })"
	check_accounting
	assert_eq 30 "$(summary_field last ok)" "stage last ok ($op)"
	head -n 1 "$T/job.log" | grep -q '^Seq' || fail "joblog: no header line ($op)"
	assert_eq 30 "$(tail -n +2 "$T/job.log" | wc -l)" "joblog data lines ($op): one per input item"
	assert_eq 30 "$(tail -n +2 "$T/job.log" | cut -f3 | sort -u | wc -l)" "distinct joblog indexes ($op)"

	run_daemon "$T/c.yaml" --resume
	rc=$?
	assert_exit 0 "$rc" "sluiced --resume (joblog; last stage builtin { $op })"
	check_accounting
	assert_eq 30 "$(summary_field source in skipped)" "--resume: skipped ($op)"
	assert_eq 0 "$(summary_field source in items)" "--resume: items ($op)"
done
exit 0
