#!/usr/bin/env bash
# The file source stops reading when the queue is full: while a slow stage
# works, the daemon's read offset in a big input file stays near the start and
# its memory stays small. Then the whole file goes through, exactly.
. "$(dirname "$0")/../lib.sh"

python3 -c '
import sys
with open(sys.argv[1], "w") as f:
    for i in range(200000):
        f.write("line %07d %s\n" % (i, "x" * 88))
' "$T/in.txt"
size=$(stat -c %s "$T/in.txt")
cat >"$T/c.yaml" <<YAML
queue: { capacity: 16, max_bytes: 64KiB }
shutdown: { grace: 5m }
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: slow
    workers: 2
    exec: { argv: [sh, -c, 'sleep 0.1; echo "\$1"', sh, "{}"] }
    timeout: 1h
  - name: rest
    builtin: { op: passthrough }
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML
start_daemon "$T/c.yaml"
wait_for '[ "$(lines "$T/out.txt")" -ge 10 ]' 60 || fail "fewer than 10 items reached the sink in 60 s"
pos1=$(fd_pos "$DAEMON_PID" "$T/in.txt")
hwm1=$(hwm_kb "$DAEMON_PID")
wait_for '[ "$(lines "$T/out.txt")" -ge 40 ]' 60 || fail "fewer than 40 items reached the sink in 60 s"
pos2=$(fd_pos "$DAEMON_PID" "$T/in.txt")
hwm2=$(hwm_kb "$DAEMON_PID")
note "input $size bytes; read offset $pos1 then $pos2; VmHWM $hwm1 then $hwm2 KiB"
[ -n "$pos2" ] || fail "the daemon has no open descriptor on $T/in.txt while the file is being processed (did it read the whole 20 MB file into memory?)"
assert_le "$pos2" $((4 * 1024 * 1024)) "read offset in the 20 MB input after 40 items (queues hold 16 items / 64 KiB)"
assert_le "$hwm2" $((hwm1 * 3 / 2 + 4096 * SCALE)) "VmHWM (KiB) after 40 items, given ${hwm1} KiB after 10"

# Stop it; the drain goes through what was read. The job did not read all its
# input: 75.
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 120
rc=$?
assert_exit 75 "$rc" "sluiced after SIGTERM (a job stopped before its input ended)"
check_accounting
n=$(summary_field source in items)
assert_eq "$n" "$(lines "$T/out.txt")" "lines written = items read"
head -n "$n" "$T/in.txt" | sort >"$T/want.txt"
sort "$T/out.txt" >"$T/out.sorted"
assert_file_eq "$T/want.txt" "$T/out.sorted" "output after SIGTERM: the first $n lines of the input (as a set)"

# Now the whole 20 MB file through small queues, exactly and in order.
cat >"$T/c2.yaml" <<YAML
queue: { capacity: 16, max_bytes: 64KiB }
memory_limit: 1MiB
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - { name: a, builtin: { op: passthrough } }
  - { name: b, queue: { capacity: 4 }, builtin: { op: grep, pattern: "^line" } }
sinks:
  - { name: out, type: file, path: $T/all.txt }
YAML
run_daemon "$T/c2.yaml"
rc=$?
assert_exit 0 "$rc" "sluiced, 200000 lines through small queues"
check_accounting
assert_file_eq "$T/in.txt" "$T/all.txt" "200000 lines through small queues: exact output"
exit 0
