#!/usr/bin/env bash
# exec stage I/O under pressure: a large item on stdin while the child writes a
# large result at the same time (no deadlock, exact bytes); a child flooding
# stderr (drained, only a tail kept, memory flat); stdout: lines producing many
# items per input is held back by the downstream queue (memory flat).
. "$(dirname "$0")/../lib.sh"

[ "$SLUICE_SAN" = 1 ] && export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=4:thread_local_quarantine_size_kb=64"

# 1. 900 KB items through cat (stdin: item, stdout: result): byte-exact.
python3 -c '
import sys, random
r = random.Random(7)
with open(sys.argv[1], "w") as f:
    for i in range(6):
        f.write("".join(r.choice("abcdefghij \t{}$") for _ in range(900000 - i * 1000)) + "\n")
' "$T/big.txt"
cat >"$T/big.yaml" <<YAML
sources:
  - { name: in, type: file, path: $T/big.txt }
stages:
  - name: cat
    workers: 2
    exec: { argv: [cat], stdin: item, stdout: result }
sinks:
  - { name: out, type: file, path: $T/big.out }
YAML
run_daemon "$T/big.yaml"
rc=$?
assert_exit 0 "$rc" "900 KB items through cat"
check_accounting
sort "$T/big.txt" >"$T/big.want"
sort "$T/big.out" >"$T/big.sorted"
assert_file_eq "$T/big.want" "$T/big.sorted" "900 KB items through cat (as a set)"

# 2. A child writing 20 MB to stderr before its result: the daemon drains
#    stderr (no deadlock) and keeps only a tail (memory flat).
mkfifo "$T/in.fifo"
cat >"$T/err.yaml" <<YAML
sources:
  - { name: in, type: stdin }
stages:
  - name: noisy
    workers: 2
    exec: { argv: [sh, -c, 'yes "noise from \$1" | head -c 20000000 >&2; echo "ok-\$1"', sh, "{}"] }
sinks:
  - { name: out, type: file, path: $T/err.out }
YAML
DAEMON_STDIN=$T/in.fifo start_daemon "$T/err.yaml"
exec 3>"$T/in.fifo"
printf 'a\nb\nc\n' >&3
wait_for '[ "$(lines "$T/err.out")" -ge 3 ]' $((60 * SCALE)) || fail "stderr flood: only $(lines "$T/err.out") of 3 results after $((60 * SCALE)) s (is the child blocked writing stderr?)"
hwm=$(hwm_kb "$DAEMON_PID")
note "VmHWM after 3 children wrote 20 MB of stderr each: $hwm KiB"
assert_le "$hwm" $((60 * 1024 * SCALE)) "daemon VmHWM (KiB) after children wrote 3 x 20 MB to stderr"
exec 3>&-
wait_exit "$DAEMON_PID" 60
rc=$?
assert_exit 0 "$rc" "stderr flood"
check_accounting
printf 'ok-a\nok-b\nok-c\n' >"$T/err.want"
sort "$T/err.out" >"$T/err.sorted"
assert_file_eq "$T/err.want" "$T/err.sorted" "results of the noisy children"
errsize=$(wc -c <"$DAEMON_ERR")
assert_le "$errsize" $((1024 * 1024)) "bytes of daemon stderr (a child's stderr is not copied whole into the log)"

# 3. stdout: lines, one input becoming 1,000,000 (empty) items from under 1 MiB
#    of output (max_item_bytes bounds a child's whole stdout), into a slow
#    stage with a 20-item queue: the child's output must be read only as fast
#    as that queue drains, not turned into a million queued items at once.
base=$hwm
cat >"$T/lines.yaml" <<YAML
sources:
  - { name: in, type: generate, count: 1 }
stages:
  - name: explode
    exec: { argv: [sh, -c, 'yes "" | head -c 1000000'], stdout: lines }
  - name: slow
    workers: 2
    queue: { capacity: 20 }
    exec: { argv: [sh, -c, 'sleep 0.005; echo "x\$1"', sh, "{}"] }
sinks:
  - { name: out, type: file, path: $T/lines.out }
YAML
start_daemon "$T/lines.yaml"
wait_for '[ "$(lines "$T/lines.out")" -ge 20 ]' 60 || fail "stdout: lines: fewer than 20 items reached the sink in 60 s"
hwm1=$(hwm_kb "$DAEMON_PID")
wait_for '[ "$(lines "$T/lines.out")" -ge 300 ]' $((60 * SCALE)) || fail "stdout: lines: fewer than 300 items reached the sink"
hwm2=$(hwm_kb "$DAEMON_PID")
note "stdout: lines: VmHWM baseline $base KiB, after 20 items $hwm1 KiB, after 300 items $hwm2 KiB"
assert_le "$hwm1" $((base + 16384 * SCALE)) "VmHWM (KiB) once 20 of 1,000,000 items from one child are through a 20-item queue (a similar pipeline peaked at ${base} KiB)"
assert_le "$hwm2" $((hwm1 * 3 / 2 + 4096 * SCALE)) "VmHWM (KiB) after 300 items, given ${hwm1} KiB after 20"
# The producing child is still there, blocked on its stdout: backpressure.
send_signal "$DAEMON_PID" TERM
send_signal "$DAEMON_PID" TERM
wait_exit "$DAEMON_PID" 120
rc=$?
case $rc in 0 | 75) ;; *) fail "stopped with two SIGTERMs: expected exit 75 (or 0 if the drain won), got $rc" ;; esac
check_accounting
assert_no_leftovers 10
exit 0
