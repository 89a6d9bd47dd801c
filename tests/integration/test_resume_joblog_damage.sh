#!/usr/bin/env bash
# --resume with a joblog that holds no done item, or damage (issue 9, item 5):
#  * header only, and a zero-byte file (what a SIGKILL right after a start
#    leaves): the run does everything (in the sanitizer build too: qsort(NULL,
#    0) was undefined behaviour, exit 1), and the zero-byte file gets its header;
#  * torn and damaged lines ("12\tin\t3" cut from index 35, a negative index,
#    an overlong line, binary junk, a NUL) are not keys: only whole lines count,
#    and nothing read back is a crash.
. "$(dirname "$0")/../lib.sh"

HEADER=$(printf 'Seq\tSource\tIndex\tStage\tStart\tDuration\tAttempts\tOutcome\tExitval\tSignal')
seq 1 40 >"$T/in.txt"
cat >"$T/c.yaml" <<YAML
joblog: $T/job.log
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - { name: work, workers: 2, builtin: { op: passthrough } }
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML

resume_all() { # WHAT: --resume with $T/job.log as it is; everything runs
	rm -f "$T/out.txt"
	run_daemon "$T/c.yaml" --resume
	rc=$?
	assert_exit 0 "$rc" "$1: sluiced --resume"
	check_accounting
	assert_eq 0 "$(summary_field source in skipped)" "$1: skipped"
	assert_file_eq "$T/in.txt" "$T/out.txt" "$1: everything written"
	assert_eq "$HEADER" "$(head -n 1 "$T/job.log")" "$1: the joblog's first line"
	assert_eq 41 "$(lines "$T/job.log")" "$1: joblog lines (header + 40)"
}

printf '%s\n' "$HEADER" >"$T/job.log"
resume_all "header only"
: >"$T/job.log"
resume_all "zero bytes"

# Damage: one whole line (index 7) and lines that must not count.
{
	printf '%s\n' "$HEADER"
	printf '1\tin\t7\twork\t1.0\t0.1\t1\tok\t0\t-\n'
	printf '2\tin\t-9\twork\t1.0\t0.1\t1\tok\t0\t-\n'
	printf '3\tin\t 8\twork\t1.0\t0.1\t1\tok\t0\t-\n'
	printf '4\tin\t99999999999999999999999\twork\n'
	printf '5\t%s\t9\twork\t1.0\t0.1\t1\tok\t0\t-\n' "$(head -c 3000 /dev/zero | tr '\0' a)"
	printf '6\tin\t10\twork\0\t1.0\n'
	head -c 2000 /dev/urandom
	printf '\n12\tin\t3'
} >"$T/job.log"
rm -f "$T/out.txt"
run_daemon "$T/c.yaml" --resume
rc=$?
assert_exit 0 "$rc" "damaged joblog: sluiced --resume"
check_accounting
skipped=$(summary_field source in skipped)
# 7 and, by chance, keys in the random bytes; never 3 (torn) or 8 (" 8").
grep -qx 3 "$T/out.txt" || fail "damaged joblog: item 3 (a torn line's key) was skipped"
grep -qx 8 "$T/out.txt" || fail "damaged joblog: item 8 (' 8') was skipped"
grep -qx 7 "$T/out.txt" && fail "damaged joblog: item 7 (a whole line) was not skipped"
assert_eq "$((40 - skipped))" "$(lines "$T/out.txt")" "damaged joblog: written + skipped"
exit 0
