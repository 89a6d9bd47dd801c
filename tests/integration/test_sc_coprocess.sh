#!/usr/bin/env bash
# coprocess: {argv, framing}: N long-lived processes (one per worker), one item
# per request on stdin, one answer per item on stdout.
#  * a co-process that crashes (exit 3) on every 100th item: every other item is
#    processed exactly once, the crashed ones are dead-lettered, counted failed;
#  * with retry: attempts 2 and a crash that depends on a per-process counter,
#    every item succeeds (the retry goes to a restarted process);
#  * framing: length carries items holding odd bytes (newlines, NUL, CR, tabs,
#    high bytes, empty) both ways, exactly;
#  * a co-process that hangs on an item is killed by the stage timeout and
#    restarted for the next items;
#  * at the end of input the co-processes get EOF on stdin and exit; none is left.
. "$(dirname "$0")/../lib.sh"

# cancel_now: SIGTERM (a graceful stop), then, once sluiced has logged that it
# is stopping, a second SIGTERM (cancel). Two separate signals, never merged.
cancel_now() {
	kill -TERM "$DAEMON_PID"
	wait_for 'grep -aqi "stopping" "$DAEMON_ERR"' 60 || fail "sluiced did not log that it is stopping after SIGTERM"
	kill -TERM "$DAEMON_PID"
}

CO=$PYHELPERS/sc_coproc.py

# 1. Crash on every 100th item (by its value): 10 of 1000 fail, 990 pass once.
seq 1 1000 >"$T/in.txt"
cat >"$T/c1.yaml" <<YAML
shutdown: { kill_after: 10s }
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: co
    workers: 3
    coprocess: { argv: [python3, -u, $CO, --crash-item, "100", --log, $T/procs1], framing: lines }
    on_failure: dead_letter
sinks:
  - { name: out, type: file, path: $T/out1.txt }
dead_letter: { type: file, path: $T/dead1.jsonl }
YAML
run_daemon "$T/c1.yaml"
rc=$?
assert_exit 1 "$rc" "sluiced (co-process crashes on 10 items)"
check_accounting
assert_no_leftovers 10
assert_eq 990 "$(summary_field co ok)" "crash: stage co ok"
assert_eq 10 "$(summary_field co failed)" "crash: stage co failed"
awk '$1 % 100 != 0' "$T/in.txt" >"$T/want1.txt"
cut -d' ' -f2- "$T/out1.txt" | sort -n >"$T/got1.txt"
assert_file_eq "$T/want1.txt" "$T/got1.txt" "crash: the items answered (each exactly once)"
assert_eq 10 "$(jsonl "$T/dead1.jsonl" check)" "crash: dead letter records"
assert_eq "$(seq 100 100 1000 | tr '\n' ' ')" "$(jsonl "$T/dead1.jsonl" field item | sort -n | tr '\n' ' ')" "crash: dead-lettered items"
assert_eq "10 3" "$(jsonl "$T/dead1.jsonl" field exit_status | sort | uniq -c | sed 's/^ *//')" "crash: dead letter exit_status"
# Long-lived: 3 processes, plus one restart per crash at most (not one per item).
pids=$(cut -d' ' -f1 "$T/out1.txt" | sort -u | wc -l)
assert_ge "$pids" 3 "crash: co-processes that answered (3 workers)"
assert_le "$pids" 13 "crash: co-processes that answered (3 + one per crash at most)"
started=$(grep -c '^start ' "$T/procs1")
assert_ge "$started" 4 "crash: co-processes started (the crashed ones were restarted)"
assert_le "$started" 13 "crash: co-processes started"
# Every process still running at the end of input got EOF on stdin and exited.
assert_eq "$((started - 10))" "$(grep -c '^eof ' "$T/procs1")" "crash: co-processes that saw EOF on stdin (all but the 10 that crashed)"
assert_not_contains "$DAEMON_ERR" "did not exit within kill_after" "crash: stderr"

# 2. Crash on each process's 50th request, with retry: attempts 2: all succeed.
cat >"$T/c2.yaml" <<YAML
shutdown: { kill_after: 10s }
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: co
    workers: 3
    coprocess: { argv: [python3, -u, $CO, --crash-every, "50", --log, $T/procs2] }
    retry: { attempts: 2, backoff: 10ms, max_backoff: 50ms }
    on_failure: dead_letter
sinks:
  - { name: out, type: file, path: $T/out2.txt }
dead_letter: { type: file, path: $T/dead2.jsonl }
YAML
run_daemon "$T/c2.yaml"
rc=$?
assert_exit 0 "$rc" "sluiced (co-processes crash on their 50th request; retried)"
check_accounting
assert_no_leftovers 10
assert_eq 1000 "$(summary_field co ok)" "retry: stage co ok"
assert_eq 0 "$(summary_field co failed)" "retry: stage co failed"
cut -d' ' -f2- "$T/out2.txt" | sort -n >"$T/got2.txt"
assert_file_eq "$T/in.txt" "$T/got2.txt" "retry: the items answered (each exactly once)"
[ ! -s "$T/dead2.jsonl" ] || fail "retry: dead letters: $(head -2 "$T/dead2.jsonl")"
assert_ge "$(grep -c '^start ' "$T/procs2")" 10 "retry: co-processes started (about 1000/49 crashes)"

# 3. framing: length with odd bytes, through two co-process stages: rev, then hex.
# Items with newlines come from a NUL-framed file, items with NUL from a lines file.
python3 - "$T/nul.bin" "$T/lines.bin" "$T/want3.txt" <<'PY'
import sys
nul_items = [b"plain", b"two\nlines", b"\n", b"", b"crlf\r\n", b"tab\there", b"\xff\xfe\x80 high",
             "utf8 \u00e9\u00e8 \u2603".encode(), b"back\\slash \"q\"", b"x" * 5000, b"12\n34\n",
             b"ends with newline\n"]
line_items = [b"nul\x00inside", b"\x00", b"\x00\x00lead", b"", b"last"]
open(sys.argv[1], "wb").write(b"".join(i + b"\0" for i in nul_items))
open(sys.argv[2], "wb").write(b"".join(i + b"\n" for i in line_items))
with open(sys.argv[3], "w") as f:
    for i in sorted(x[::-1].hex() for x in nul_items + line_items):
        f.write(i + "\n")
PY
cat >"$T/c3.yaml" <<YAML
sources:
  - { name: z, type: file, path: $T/nul.bin, framing: nul }
  - { name: l, type: file, path: $T/lines.bin }
stages:
  - name: rev
    workers: 2
    coprocess: { argv: [python3, -u, $CO, --framing, length, --transform, rev, --log, $T/procs3], framing: length }
  - name: hex
    workers: 2
    coprocess: { argv: [python3, -u, $CO, --framing, length, --transform, hex, --log, $T/procs3], framing: length }
sinks:
  - { name: out, type: file, path: $T/out3.txt }
YAML
run_daemon "$T/c3.yaml"
rc=$?
assert_exit 0 "$rc" "sluiced (framing: length)"
check_accounting
assert_no_leftovers 10
sort "$T/out3.txt" >"$T/got3.txt"
assert_file_eq "$T/want3.txt" "$T/got3.txt" "length framing: hex(reverse(item)) for every item"
assert_eq 17 "$(summary_field hex ok)" "length framing: stage hex ok"
assert_le "$(grep -c '^start ' "$T/procs3")" 4 "length framing: co-processes started (2 per stage)"
assert_eq "$(grep -c '^start ' "$T/procs3")" "$(grep -c '^eof ' "$T/procs3")" "length framing: co-processes that saw EOF"

# 4. A co-process that hangs on one item: killed by the timeout, restarted.
printf 'a\nb\nhang\nc\nd\n' >"$T/in4.txt"
cat >"$T/c4.yaml" <<YAML
shutdown: { kill_after: 1s }
sources:
  - { name: in, type: file, path: $T/in4.txt }
stages:
  - name: co
    workers: 1
    timeout: 2s
    coprocess: { argv: [python3, -u, $CO, --hang, hang, --log, $T/procs4] }
    on_failure: dead_letter
sinks:
  - { name: out, type: file, path: $T/out4.txt }
dead_letter: { type: file, path: $T/dead4.jsonl }
YAML
run_daemon "$T/c4.yaml"
rc=$?
assert_exit 1 "$rc" "sluiced (a co-process hangs on one item)"
check_accounting
assert_no_leftovers 10
printf 'a\nb\nc\nd\n' >"$T/want4.txt"
cut -d' ' -f2- "$T/out4.txt" >"$T/got4.txt"
assert_file_eq "$T/want4.txt" "$T/got4.txt" "hang: the other items"
assert_eq 1 "$(summary_field co failed)" "hang: stage co failed"
assert_eq hang "$(jsonl "$T/dead4.jsonl" field item)" "hang: dead-lettered item"
assert_eq timeout "$(jsonl "$T/dead4.jsonl" field error)" "hang: dead letter kind"
assert_eq 2 "$(grep -c '^start ' "$T/procs4")" "hang: co-processes started (the hung one was restarted)"
assert_eq 2 "$(cut -d' ' -f1 "$T/out4.txt" | sort -u | wc -l)" "hang: co-processes that answered (before and after the hang)"
assert_eq 1 "$(grep -c '^eof ' "$T/procs4")" "hang: co-processes that saw EOF (the restarted one)"

# 5. A co-process that ignores EOF on stdin is terminated after kill_after.
cat >"$T/c5.yaml" <<YAML
shutdown: { kill_after: 1s }
sources:
  - { name: in, type: file, path: $T/in4.txt }
stages:
  - name: co
    workers: 2
    coprocess: { argv: [python3, -u, $CO, --ignore-eof, --log, $T/procs5] }
sinks:
  - { name: out, type: file, path: $T/out5.txt }
YAML
run_daemon "$T/c5.yaml"
rc=$?
assert_exit 0 "$rc" "sluiced (co-processes ignore EOF)"
check_accounting
assert_no_leftovers 10
assert_eq 5 "$(lines "$T/out5.txt")" "ignore-eof: lines written"
assert_eq "$(grep -c '^start ' "$T/procs5")" "$(grep -c '^eof ' "$T/procs5")" "ignore-eof: co-processes that saw EOF"

# 6. Cancel (a second SIGTERM) while a co-process hangs on an item and the others
# are idle: every co-process is stopped, exit 75, the hung item is unfinished.
printf 'a\nhang\nb\nc\n' >"$T/in6.txt"
cat >"$T/c6.yaml" <<YAML
shutdown: { kill_after: 1s, grace: 60s }
sources:
  - { name: in, type: file, path: $T/in6.txt }
stages:
  - name: co
    workers: 3
    coprocess: { argv: [python3, -u, $CO, --hang, hang, --log, $T/procs6] }
sinks:
  - { name: out, type: file, path: $T/out6.txt }
YAML
start_daemon "$T/c6.yaml"
wait_for '[ "$(lines "$T/out6.txt")" -ge 3 ]' 60 || fail "cancel: the 3 other items were not written: $(cat "$T/out6.txt" 2>/dev/null)"
cancel_now
wait_exit "$DAEMON_PID" 60
rc=$?
assert_exit 75 "$rc" "sluiced (cancelled while a co-process hangs)"
check_accounting
assert_no_leftovers 10
assert_eq 1 "$(summary_field co in_flight)" "cancel: stage co in_flight (the hung item)"
assert_eq 1 "$(summary_field unfinished lost)" "cancel: lost (no spool)"
exit 0
