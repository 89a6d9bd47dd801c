#!/usr/bin/env bash
# A reload that adds a joblog (or moves it): the records the previous pipeline
# still finishes after the reload are listed in the new joblog, so --resume does
# not run them again. The old daemon dropped their lines (the previous pipeline
# had no joblog of its own) and listed none of the 10 records here.
. "$(dirname "$0")/../lib.sh"
. "$PYHELPERS/reload.sh"

N=10
seq 1 "$N" >"$T/in.txt"
touch "$T/hold"
conf() { # JOBLOG_LINE
	cat <<YAML
$1
sources:
  - { name: in, type: file, path: $T/in.txt, follow: true }
stages:
  - name: work
    workers: 3
    exec: { argv: [sh, -c, 'while [ -e $T/hold ]; do sleep 0.05; done; echo "\$\$1"', sh, "{}"] }
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML
}
conf "" >"$T/c.yaml"
start_daemon "$T/c.yaml"
wait_running '[ "$(marked_children | wc -w)" -ge 3 ]' 60 || fail "the stage's workers did not start"
conf "joblog: $T/job.log" >"$T/c.yaml"
reload_sighup
rm -f "$T/hold"
wait_running '[ "$(lines "$T/out.txt")" = "$N" ] && [ "$(lines "$T/job.log")" -gt "$N" ]' 60 ||
	fail "expected $N records and their joblog lines, got $(lines "$T/out.txt") and $(lines "$T/job.log") line(s)"
send_signal "$DAEMON_PID" TERM
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "the service stopped after the reload"
assert_eq "$(seq 1 "$N")" "$(awk -F'\t' 'NR > 1 { print $3 }' "$T/job.log" | sort -n)" \
	"records the joblog lists (all finished after the reload)"
exit 0
