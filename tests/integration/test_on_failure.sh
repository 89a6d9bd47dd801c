#!/usr/bin/env bash
# on_failure: skip (counted, logged, not dead-lettered), dead_letter (written
# to the dead letter file), per stage; exit 1.
. "$(dirname "$0")/../lib.sh"

seq 1 20 >"$T/in.txt"
cat >"$T/c.yaml" <<YAML
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: odd-skip
    workers: 3
    exec: { argv: [sh, -c, 'test \$((\$1 % 2)) = 0 && echo "\$1"', sh, "{}"] }
    on_failure: skip
  - name: four-dl
    exec: { argv: [sh, -c, 'test \$((\$1 % 4)) = 0 && exit 4; echo "\$1"', sh, "{}"] }
    on_failure: dead_letter
sinks:
  - { name: out, type: file, path: $T/out.txt }
dead_letter: { type: file, path: $T/dead.jsonl }
YAML
run_daemon "$T/c.yaml"
rc=$?
assert_exit 1 "$rc" "sluiced (failures skipped and dead-lettered)"
check_accounting
printf '2\n6\n10\n14\n18\n' >"$T/want.txt"
sort -n "$T/out.txt" >"$T/out.sorted"
assert_file_eq "$T/want.txt" "$T/out.sorted" "output"
assert_eq 20 "$(summary_field odd-skip in)" "stage odd-skip in"
assert_eq 10 "$(summary_field odd-skip failed)" "stage odd-skip failed"
assert_eq 10 "$(summary_field odd-skip ok)" "stage odd-skip ok"
assert_eq 10 "$(summary_field four-dl in)" "stage four-dl in"
assert_eq 5 "$(summary_field four-dl failed)" "stage four-dl failed"
assert_eq 5 "$(summary_field sink out written)" "sink out written"
n=$(jsonl "$T/dead.jsonl" check) || fail "dead letter file malformed"
assert_eq 5 "$n" "dead letter records (only the dead_letter stage's failures)"
assert_eq "12 16 20 4 8" "$(jsonl "$T/dead.jsonl" field item | sort | tr '\n' ' ' | sed 's/ $//')" "dead-lettered items"
assert_eq "four-dl" "$(jsonl "$T/dead.jsonl" field stage | sort -u)" "dead letter stage"
for k in seq attempts; do
	jsonl "$T/dead.jsonl" field "$k" | grep -qvE '^[0-9]+$' && fail "dead letter '$k' values should be integers: $(jsonl "$T/dead.jsonl" field "$k" | tr '\n' ' ')"
done
[ "$(jsonl "$T/dead.jsonl" field time | head -1)" != "" ] || fail "dead letter 'time' is empty"
exit 0
