#!/usr/bin/env bash
# A file through builtin passthrough and grep (and grep invert), and straight
# from source to sink with no stage: exact output.
. "$(dirname "$0")/../lib.sh"

{
	for i in $(seq 1 300); do
		case $((i % 7)) in
		0) echo "ERROR line $i: disk on fire" ;;
		3) echo "warn line $i: ERROR-ish but lower case error" ;;
		*) echo "info line $i: all good" ;;
		esac
	done
} >"$T/in.txt"

run() { # NAME STAGES-YAML: runs in.txt through the stages to $T/NAME.out
	cat >"$T/$1.yaml" <<YAML
sources:
  - { name: in, type: file, path: $T/in.txt }
$2
sinks:
  - { name: out, type: file, path: $T/$1.out }
YAML
	run_daemon "$T/$1.yaml"
	rc=$?
	assert_exit 0 "$rc" "$1"
	check_accounting
}

run none ""
assert_file_eq "$T/in.txt" "$T/none.out" "no stage: output"
assert_eq 300 "$(summary_field source in items)" "source in items"
assert_eq 0 "$(summary_field source in rejected)" "source in rejected"
assert_eq 300 "$(summary_field sink out written)" "sink out written"
assert_eq "spooled=0 lost=0" "$(grep -a '^unfinished: ' "$DAEMON_ERR" | sed 's/^unfinished: //')" "unfinished line"

run pass "stages:
  - { name: p, builtin: { op: passthrough } }"
assert_file_eq "$T/in.txt" "$T/pass.out" "passthrough: output"
assert_eq 300 "$(summary_field p in)" "stage p in"
assert_eq 300 "$(summary_field p ok)" "stage p ok"

run pass4 "stages:
  - { name: p, workers: 4, builtin: { op: passthrough } }
  - { name: q, builtin: { op: passthrough } }"
sort "$T/in.txt" >"$T/in.sorted"
sort "$T/pass4.out" >"$T/pass4.sorted"
assert_file_eq "$T/in.sorted" "$T/pass4.sorted" "two passthrough stages, 4 workers: output (as a set)"
assert_eq 300 "$(summary_field q ok)" "stage q ok"

run grep "stages:
  - { name: g, builtin: { op: grep, pattern: \"^ERROR\" } }"
grep -a '^ERROR' "$T/in.txt" >"$T/grep.want"
assert_file_eq "$T/grep.want" "$T/grep.out" "grep ^ERROR: output"
n=$(lines "$T/grep.want")
assert_eq 300 "$(summary_field g ok)" "stage g ok (filtered-out items are processed fine)"
assert_eq "$n" "$(summary_field sink out written)" "sink out written"
assert_eq 300 "$(summary_field g in)" "stage g in"

run grepv "stages:
  - { name: g, builtin: { op: grep, pattern: \"ERROR|line [0-9]*5:\", invert: true } }"
grep -avE 'ERROR|line [0-9]*5:' "$T/in.txt" >"$T/grepv.want"
assert_file_eq "$T/grepv.want" "$T/grepv.out" "grep invert (extended regex): output"
assert_eq "$(lines "$T/grepv.want")" "$(summary_field sink out written)" "sink out written"

# An empty input file: nothing out, exit 0.
: >"$T/in.txt"
run empty "stages:
  - { name: p, builtin: { op: passthrough } }"
assert_eq 0 "$(wc -c <"$T/empty.out")" "bytes written for an empty input"
assert_eq 0 "$(summary_field p in)" "stage p in for an empty input"
exit 0
