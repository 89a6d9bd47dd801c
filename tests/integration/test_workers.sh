#!/usr/bin/env bash
# workers: N is the stage's concurrency limit: never more than N items of the
# stage in flight at once.
. "$(dirname "$0")/../lib.sh"

mkdir -p "$T/run"
seq 1 40 >"$T/in.txt"
cat >"$T/c.yaml" <<YAML
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: three
    workers: 3
    exec:
      argv: [sh, -c, 'touch $T/run/\$1; ls $T/run | wc -l >>$T/conc; sleep 0.05; rm $T/run/\$1; echo \$1', sh, "{}"]
  - name: one
    exec:
      argv: [sh, -c, 'touch $T/run/one-\$1; ls $T/run | grep -c one- >>$T/conc1; sleep 0.01; rm $T/run/one-\$1; echo \$1', sh, "{}"]
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML
run_daemon "$T/c.yaml"
rc=$?
assert_exit 0 "$rc" "sluiced"
check_accounting
sort -n "$T/out.txt" >"$T/out.sorted"
assert_file_eq "$T/in.txt" "$T/out.sorted" "output (as a set)"
# 'ls | wc' counts files of both stages; stage 'one' adds at most 1.
max=$(sort -n "$T/conc" | tail -n 1)
max1=$(sort -n "$T/conc1" | tail -n 1)
note "most items in flight seen: stage three $max (incl. stage one's), stage one $max1"
assert_le "$max" 4 "items in flight in stage 'three' (workers: 3) plus stage 'one' (workers: 1)"
assert_le "$max1" 1 "items in flight in stage 'one' (workers: 1)"
assert_eq 40 "$(lines "$T/conc")" "children started by stage three"
exit 0
