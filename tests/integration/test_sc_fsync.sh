#!/usr/bin/env bash
# fsync: always and batch are done off the event loop, on the background I/O
# threads: a pipeline fanning out to two sinks, one with fsync: always, one
# without, writes every record to both, and every fdatasync(2) runs on a thread
# other than the daemon's main thread (strace -f shows which task made it).
. "$(dirname "$0")/../lib.sh"

require_strace

for mode in always batch; do
	rm -f "$T/a.txt" "$T/b.txt" "$T/trace"
	cat >"$T/c.yaml" <<YAML
sources:
  - { name: gen, type: generate, count: 1000, interval: 2ms }
sinks:
  - { name: synced, type: file, path: $T/a.txt, fsync: $mode }
  - { name: plain, type: file, path: $T/b.txt }
YAML
	env SLUICE_TEST_MARK="$MARK" strace -f -qq -e trace=execve,fdatasync -o "$T/trace" \
		"$SLUICED" -c "$T/c.yaml" >"$T/out" 2>"$T/err"
	rc=$?
	DAEMON_ERR=$T/err
	assert_exit 0 "$rc" "sluiced with an fsync: $mode sink"
	check_accounting
	assert_eq 1000 "$(lines "$T/a.txt")" "records in the fsync: $mode sink"
	assert_eq 1000 "$(lines "$T/b.txt")" "records in the plain sink"
	cmp -s "$T/a.txt" "$T/b.txt" || fail "the two sinks differ"
	# strace -f -o: "PID syscall(...)"; the execve is made by the main thread.
	main=$(awk '/execve\(/ { print $1; exit }' "$T/trace")
	n=$(grep -c 'fdatasync(' "$T/trace" || true)
	assert_ge "$n" 1 "fdatasync calls with fsync: $mode"
	on_main=$(awk -v m="$main" '$1 == m && /fdatasync\(/' "$T/trace" | wc -l)
	# At close the last sync is made on the main thread, after the loop ended.
	assert_le "$on_main" 1 "fdatasync calls made on the event loop's thread (fsync: $mode)"
	note "fsync: $mode: $n fdatasync calls, $on_main on the main thread (the final one at close)"
done
exit 0
