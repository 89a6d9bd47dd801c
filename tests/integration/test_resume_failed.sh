#!/usr/bin/env bash
# --resume skips every item the joblog records as finished, ok or failed, and says
# how many of them had failed (and exits 1: those items are not done); after the
# cause is fixed, --resume-failed runs the failed ones again and skips the ok ones,
# so across the runs every input is written exactly once.
. "$(dirname "$0")/../lib.sh"

seq -f 'L%g' 1 10 >"$T/in.txt"
cat >"$T/c.yaml" <<YAML
joblog: $T/job.log
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: work
    workers: 2
    # Even items fail until \$T/fixed exists (a misspelt command, say, then fixed).
    exec: { argv: [sh, -c, 'n=\$(echo "\$1" | tr -d L); [ -e $T/fixed ] || [ \$((n % 2)) = 1 ] || exit 3; echo "\$1"', sh, "{}"] }
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML

run_daemon "$T/c.yaml"
assert_exit 1 "$?" "first run (5 of 10 fail)"
assert_eq 5 "$(lines "$T/out.txt")" "written after the first run"

# --resume: nothing runs, and the summary does not claim success.
run_daemon "$T/c.yaml" --resume
assert_exit 1 "$?" "--resume with failed items in the joblog"
assert_eq 5 "$(lines "$T/out.txt")" "written after --resume"
assert_eq 10 "$(summary_field source in skipped)" "skipped by --resume"
assert_contains "$DAEMON_ERR" "resume: skipped=5 item(s) that failed in an earlier run" "the summary"
assert_contains "$DAEMON_ERR" "--resume-failed runs them again" "the summary"
assert_not_contains "$DAEMON_ERR" "all items succeeded" "the summary"

# Fixed: --resume-failed runs the 5 failed ones, and only them.
touch "$T/fixed"
run_daemon "$T/c.yaml" --resume-failed
assert_exit 0 "$?" "--resume-failed after the fix"
assert_eq 5 "$(summary_field source in skipped)" "skipped by --resume-failed (the ok ones)"
assert_eq 5 "$(summary_field stage work ok)" "run by --resume-failed"
assert_contains "$DAEMON_ERR" "records 5 item(s) as done, which are skipped, and 5 as failed, which run again" "the start"
assert_eq "$(sort "$T/in.txt")" "$(sort "$T/out.txt")" "every input written exactly once over the runs"

# The joblog now ends with an ok line for each: both kinds of resume skip them all.
for opt in --resume --resume-failed; do
	run_daemon "$T/c.yaml" "$opt"
	assert_exit 0 "$?" "$opt after everything succeeded"
	assert_eq 10 "$(summary_field source in skipped)" "skipped by $opt at the end"
	assert_not_contains "$DAEMON_ERR" "resume: skipped=" "$opt at the end"
done
assert_eq 10 "$(lines "$T/out.txt")" "written at the end"
exit 0
