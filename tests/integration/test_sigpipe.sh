#!/usr/bin/env bash
# SIGPIPE is ignored: a stdout sink whose reader went away, or a child that
# exits without reading the item on its stdin, never kills the daemon.
. "$(dirname "$0")/../lib.sh"

# 1. A child that does not read its stdin (a large item, so the write fails).
python3 -c '
import sys
with open(sys.argv[1], "w") as f:
    for i in range(20):
        f.write("%d %s\n" % (i, "z" * 500000))
' "$T/big.txt"
cat >"$T/c1.yaml" <<YAML
max_item_bytes: 1MiB
sources:
  - { name: in, type: file, path: $T/big.txt }
stages:
  - name: noread
    workers: 2
    exec: { argv: [sh, -c, 'echo done'], stdin: item, stdout: result }
    on_failure: skip
sinks:
  - { name: out, type: file, path: $T/out1.txt }
YAML
run_daemon "$T/c1.yaml"
rc=$?
[ "$rc" = 0 ] || [ "$rc" = 1 ] || fail "a child not reading its stdin: expected exit 0 or 1 (per-item io failures), got $rc"
check_accounting
assert_eq 20 "$(summary_field noread in)" "stage noread in"
assert_eq 20 "$(($(summary_field noread ok) + $(summary_field noread failed)))" "stage noread ok + failed"

# 2. The stdout sink's reader goes away early.
cat >"$T/c2.yaml" <<YAML
sources:
  - { name: gen, type: generate, count: 100000000 }
sinks:
  - { name: out, type: stdout }
YAML
mkfifo "$T/out.fifo"
head -c 1000 <"$T/out.fifo" >"$T/head.out" &
reader=$!
DAEMON_STDOUT=$T/out.fifo start_daemon "$T/c2.yaml"
wait "$reader"
wait_exit "$DAEMON_PID" 120
rc=$?
[ "$rc" -lt 128 ] || fail "the daemon died of a signal ($((rc - 128))) when its stdout reader went away (exit $rc)"
assert_ne 0 "$rc" "exit code when the stdout sink cannot write everything"
assert_eq 1000 "$(wc -c <"$T/head.out")" "bytes the reader got"
exit 0
