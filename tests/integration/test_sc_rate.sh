#!/usr/bin/env bash
# rate: 50/s is a token bucket on item starts: 200 items with workers: 8 take at
# least ~4s (checked loosely: at least 3.5s; never an upper bound). Every item
# is still processed once. A stage without rate is not slowed down by it.
. "$(dirname "$0")/../lib.sh"

seq 1 200 >"$T/in.txt"
cat >"$T/c.yaml" <<YAML
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: work
    workers: 8
    rate: 50/s
    exec: { argv: [sh, -c, 'date +%s%N >>$T/starts; echo "\$1"', sh, "{}"] }
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML
t0=$(now_ms)
run_daemon "$T/c.yaml"
rc=$?
t1=$(now_ms)
assert_exit 0 "$rc" "sluiced (rate: 50/s)"
check_accounting
sort -n "$T/out.txt" >"$T/out.sorted"
assert_file_eq "$T/in.txt" "$T/out.sorted" "output (every item once)"
assert_ge "$((t1 - t0))" 3500 "ms for 200 items at 50/s"
# The starts themselves, as the children saw them: 200 starts span at least ~3.5s.
assert_eq 200 "$(lines "$T/starts")" "starts"
span=$(sort -n "$T/starts" | sed -n '1p;$p' | tr '\n' ' ' | awk '{ printf "%d", ($2 - $1) / 1000000 }')
assert_ge "$span" 3400 "ms between the first and the last start"
# In any 1s window there are at most ~50 starts. Not a speed bound: a loaded
# machine only delays children, and with workers: 8 at most 8 delayed ones can
# pile into a window on top of its ~51 starts (slack left for a small burst).
maxwin=$(sort -n "$T/starts" | awk '{ t[NR] = $1 } END {
	j = 1; m = 0
	for (i = 1; i <= NR; i++) { while (t[i] - t[j] >= 1000000000) j++; if (i - j + 1 > m) m = i - j + 1 }
	print m }')
assert_le "$maxwin" 70 "starts within any 1s window at rate 50/s"

# rate: 5/m parses and applies too (the first start is immediate; a job of one item
# is not slowed down).
sed -i 's|rate: 50/s|rate: 5/m|' "$T/c.yaml"
echo only >"$T/in.txt"
rm -f "$T/out.txt"
run_daemon "$T/c.yaml"
rc=$?
assert_exit 0 "$rc" "sluiced (rate: 5/m, one item)"
check_accounting
assert_eq only "$(cat "$T/out.txt")" "output (rate: 5/m)"

# The rate's wait is a cancellation point: at 2/m, after the first item, SIGTERM
# with grace 1s ends the job within grace + a few seconds (not 30s per item); the
# items not started are unfinished (lost: no spool), exit 75.
seq 1 5 >"$T/in.txt"
rm -f "$T/out.txt"
sed -i 's|rate: 5/m|rate: 2/m|; 1i shutdown: { grace: 1s, kill_after: 1s }' "$T/c.yaml"
grep -q '^shutdown: { grace: 1s' "$T/c.yaml" || fail "test bug: config not rewritten: $(head -3 "$T/c.yaml")"
start_daemon "$T/c.yaml"
wait_for '[ "$(lines "$T/out.txt")" -ge 1 ]' 60 || fail "rate 2/m: the first item was not written"
t0=$(now_ms)
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 120
rc=$?
t1=$(now_ms)
assert_exit 75 "$rc" "sluiced (SIGTERM while waiting for the rate)"
check_accounting
assert_le "$((t1 - t0))" "$((1000 + 5000 * SCALE))" "ms from SIGTERM to exit (grace 1s; the rate's 30s wait must not be waited for)"
assert_eq 1 "$(lines "$T/out.txt")" "rate 2/m: lines written"
assert_eq 4 "$(summary_field unfinished lost)" "rate 2/m: unfinished lost (no spool)"
exit 0
