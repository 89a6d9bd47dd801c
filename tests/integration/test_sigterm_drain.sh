#!/usr/bin/env bash
# SIGTERM / SIGINT in the middle of a run: a graceful drain. The sources stop,
# every item read reaches the sink, nothing left running; exit 0 for a service
# (an endless generator), 75 for a job whose input had not ended.
. "$(dirname "$0")/../lib.sh"

for sig in TERM INT; do
	out=$T/out-$sig.txt
	cat >"$T/c.yaml" <<YAML
sources:
  - { name: gen, type: generate, template: "item-{seq}" }
stages:
  - name: work
    workers: 2
    queue: { capacity: 20 }
    exec: { argv: [sh, -c, 'sleep 0.05; echo "\$1"', sh, "{}"] }
  - name: after
    builtin: { op: passthrough }
sinks:
  - { name: out, type: file, path: $out }
YAML
	start_daemon "$T/c.yaml"
	wait_for '[ "$(lines "$out")" -ge 10 ]' 60 || fail "SIG$sig: fewer than 10 items reached the sink in 60 s ($(lines "$out"))"
	kill -"$sig" "$DAEMON_PID"
	wait_exit "$DAEMON_PID" 120
	rc=$?
	assert_exit 0 "$rc" "sluiced after SIG$sig (graceful drain)"
	check_accounting
	n=$(summary_field source gen items)
	assert_eq "$n" "$(summary_field sink out written)" "SIG$sig: sink written = source items"
	assert_eq "$n" "$(lines "$out")" "SIG$sig: lines in the sink file = source items"
	assert_eq "$n" "$(summary_field work ok)" "SIG$sig: stage work ok"
	assert_eq "0 0" "$(summary_field work in_flight) $(summary_field work queued)" "SIG$sig: stage work in_flight, queued"
	assert_eq "spooled=0 lost=0" "$(grep -a '^unfinished: ' "$DAEMON_ERR" | sed 's/^unfinished: //')" "SIG$sig: unfinished"
	# The items are distinct and form one run of consecutive sequence numbers.
	sed 's/^item-//' "$out" | sort -n -u >"$T/seqs"
	assert_eq "$n" "$(lines "$T/seqs")" "SIG$sig: distinct items"
	first=$(head -n 1 "$T/seqs")
	last=$(tail -n 1 "$T/seqs")
	assert_eq "$((n - 1))" "$((last - first))" "SIG$sig: consecutive sequence numbers ($first..$last for $n items)"
	assert_no_leftovers 10
done

# A pipe source: bytes read from a pipe exist only in the daemon, so a graceful
# stop must pass on every complete line it read. Lines of ~1 KB, so what a read
# takes from the pipe is a few dozen items. The job's input had not ended: 75.
python3 -c '
import sys
with open(sys.argv[1], "w") as f:
    for i in range(20000):
        f.write("%06d %s\n" % (i, "p" * 1000))
' "$T/pipe-in.txt"
mkfifo "$T/in.fifo"
cat >"$T/p.yaml" <<YAML
sources:
  - { name: in, type: stdin }
stages:
  - name: work
    workers: 2
    queue: { capacity: 10 }
    exec: { argv: [sh, -c, 'sleep 0.02; printf "%s\\n" "\$1"', sh, "{}"] }
sinks:
  - { name: out, type: file, path: $T/pipe-out.txt }
YAML
DAEMON_STDIN=$T/in.fifo start_daemon "$T/p.yaml"
cat "$T/pipe-in.txt" >"$T/in.fifo" 2>/dev/null &
writer=$!
wait_for '[ "$(lines "$T/pipe-out.txt")" -ge 10 ]' 60 || fail "stdin: fewer than 10 items reached the sink in 60 s"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 120
rc=$?
kill "$writer" 2>/dev/null
wait "$writer" 2>/dev/null
assert_exit 75 "$rc" "sluiced after SIGTERM (stdin source: a job stopped before its input ended)"
assert_contains "$DAEMON_ERR" "not read: source in: the rest of its input" "stdin: input remained"
check_accounting
n=$(summary_field source in items)
assert_eq "$n" "$(lines "$T/pipe-out.txt")" "stdin: lines written = items read"
assert_le "$n" 19999 "stdin: items read (the source must stop reading at SIGTERM)"
head -n "$n" "$T/pipe-in.txt" >"$T/pipe-want.txt"
sort "$T/pipe-out.txt" >"$T/pipe-out.sorted"
assert_file_eq "$T/pipe-want.txt" "$T/pipe-out.sorted" "stdin: the first $n input lines, each once (as a set)"
exit 0
