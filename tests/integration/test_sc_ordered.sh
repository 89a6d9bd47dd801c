#!/usr/bin/env bash
# ordered: true: results leave the stage in input order, whatever order the
# workers finish in (random per-item sleeps, workers: 4). Without it the output
# is the same multiset (and, with these sleeps, practically never in order).
# Ordering holds through retries and with items that produce several lines.
. "$(dirname "$0")/../lib.sh"

seq -f 'n%03g' 1 200 >"$T/in.txt"
conf() { # ORDERED OUT
	cat <<YAML
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: work
    workers: 4
    ordered: $1
    exec: { argv: [sh, -c, 'sleep 0.0\$((\$(od -An -N1 -tu1 /dev/urandom) % 5)); echo "\$1 done"', sh, "{}"] }
  - name: after
    workers: 3
    ordered: $1
    builtin: { op: passthrough }
sinks:
  - { name: out, type: file, path: $2 }
YAML
}
sed 's/$/ done/' "$T/in.txt" >"$T/want.txt"

conf true "$T/ordered.txt" >"$T/o.yaml"
run_daemon "$T/o.yaml"
rc=$?
assert_exit 0 "$rc" "sluiced (ordered: true)"
check_accounting
assert_file_eq "$T/want.txt" "$T/ordered.txt" "ordered output (exactly the input order)"
assert_eq 200 "$(summary_field work ok)" "stage work ok (ordered)"

conf false "$T/unordered.txt" >"$T/u.yaml"
run_daemon "$T/u.yaml"
rc=$?
assert_exit 0 "$rc" "sluiced (ordered: false)"
check_accounting
sort "$T/unordered.txt" >"$T/unordered.sorted"
assert_file_eq "$T/want.txt" "$T/unordered.sorted" "unordered output (the same multiset)"
if cmp -s "$T/want.txt" "$T/unordered.txt"; then
	note "unordered output happened to come out in input order"
fi

# Ordered with retries (the even items fail their first attempt and wait in a
# backoff) and with stdout: lines (each item gives 3 results, kept together).
seq -f 'r%03g' 1 60 >"$T/in.txt"
mkdir -p "$T/st"
cat >"$T/r.yaml" <<YAML
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: work
    workers: 4
    ordered: true
    retry: { attempts: 2, backoff: 20ms, max_backoff: 100ms }
    exec:
      stdout: lines
      argv:
        - sh
        - -c
        - |
          sleep 0.0\$((\$(od -An -N1 -tu1 /dev/urandom) % 5))
          n=\$\${1#r}
          if [ \$((1\$n % 2)) = 0 ] && [ ! -e $T/st/\$1 ]; then : >$T/st/\$1; exit 1; fi
          printf '%s a\n%s b\n%s c\n' "\$1" "\$1" "\$1"
        - sh
        - "{}"
sinks:
  - { name: out, type: file, path: $T/r.txt }
YAML
run_daemon "$T/r.yaml"
rc=$?
assert_exit 0 "$rc" "sluiced (ordered, with retries and stdout: lines)"
check_accounting
awk '{ print $0 " a"; print $0 " b"; print $0 " c" }' "$T/in.txt" >"$T/rwant.txt"
assert_file_eq "$T/rwant.txt" "$T/r.txt" "ordered output with retries and several results per item"
assert_eq 30 "$(ls "$T/st" | wc -l)" "items that failed their first attempt"

# A slow head item: finished items park their results and free their workers,
# up to the reorder window (README: at most 4 x workers items outstanding, here
# 8); past it the stage waits for the head. A failed item (skipped) leaves a gap
# in the output, not a stall. Order holds throughout.
seq -f 'h%03g' 1 40 >"$T/in.txt"
mkdir -p "$T/started"
cat >"$T/h.yaml" <<YAML
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: work
    workers: 2
    ordered: true
    on_failure: skip
    exec:
      argv:
        - sh
        - -c
        - |
          : >$T/started/\$1
          if [ \$1 = h001 ]; then
            i=0
            while [ ! -e $T/release ]; do i=\$((i + 1)); [ \$i -gt 1200 ] && break; sleep 0.05; done
          fi
          [ \$1 = h005 ] && exit 3
          echo "\$1"
        - sh
        - "{}"
sinks:
  - { name: out, type: file, path: $T/h.txt }
YAML
start_daemon "$T/h.yaml"
# More items than workers start while the head runs: the others' workers are freed.
wait_for '[ "$(ls "$T/started" | wc -l)" -ge 3 ]' 60 ||
	fail "slow head: only $(ls "$T/started" | wc -l) item(s) started while the head item runs (finished items should free their workers)"
# Let the stage run into its window (a short look: nothing is waited for here).
sleep 1
n=$(ls "$T/started" | wc -l)
assert_le "$n" 8 "slow head: items started while the head item runs (reorder window 4 x 2 workers)"
[ ! -s "$T/h.txt" ] || fail "slow head: results left before the head item's: $(head -3 "$T/h.txt" | tr '\n' ' ')"
: >"$T/release"
wait_exit "$DAEMON_PID" 120
rc=$?
assert_exit 1 "$rc" "sluiced (ordered, slow head, one failed item)"
check_accounting
grep -vx h005 "$T/in.txt" >"$T/hwant.txt"
assert_file_eq "$T/hwant.txt" "$T/h.txt" "slow head: output in input order, without the failed item"
assert_eq 1 "$(summary_field work failed)" "slow head: stage work failed"
exit 0
