#!/usr/bin/env bash
# retry: {attempts: N, backoff, max_backoff}: N is the total number of attempts.
# A command that fails its first two attempts (its state kept in a file per item)
# succeeds on the third with attempts: 3, and is a failure with attempts: 2 (the
# dead letter record says attempts 2). A timed-out attempt is retried too, and
# the timeout starts afresh for each attempt.
. "$(dirname "$0")/../lib.sh"

seq -f 'it%02g' 1 20 >"$T/in.txt"
mkdir -p "$T/state2" "$T/state3"
# Each attempt appends a line to $T/stateN/ITEM; the first two exit 3.
cat >"$T/flaky.sh" <<'SH'
#!/bin/sh
f=$1/$2
echo x >>"$f"
n=$(wc -l <"$f")
if [ "$n" -lt 3 ]; then
	echo "attempt $n of $2 fails" >&2
	exit 3
fi
echo "ok $2 after $n"
SH
chmod +x "$T/flaky.sh"

conf() { # ATTEMPTS STATE_DIR OUT
	cat <<YAML
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: work
    workers: 4
    exec: { argv: [$T/flaky.sh, "$2", "{}"] }
    retry: { attempts: $1, backoff: 10ms, max_backoff: 100ms }
    on_failure: dead_letter
sinks:
  - { name: out, type: file, path: $3 }
dead_letter: { type: file, path: $3.dead }
YAML
}

# attempts: 3: every item succeeds on its third attempt.
conf 3 "$T/state3" "$T/out3.txt" >"$T/c3.yaml"
run_daemon "$T/c3.yaml"
rc=$?
assert_exit 0 "$rc" "sluiced (attempts: 3, every item succeeds on its third attempt)"
check_accounting
sed 's/.*/ok & after 3/' "$T/in.txt" >"$T/want3.txt"
sort "$T/out3.txt" >"$T/out3.sorted"
assert_file_eq "$T/want3.txt" "$T/out3.sorted" "output with attempts: 3"
assert_eq 20 "$(summary_field work ok)" "stage work ok (attempts: 3)"
assert_eq 0 "$(summary_field work failed)" "stage work failed (attempts: 3)"
while read -r it; do
	assert_eq 3 "$(lines "$T/state3/$it")" "attempts run for $it (attempts: 3)"
done <"$T/in.txt"
[ ! -s "$T/out3.txt.dead" ] || fail "attempts: 3: dead letters written: $(head -3 "$T/out3.txt.dead")"

# attempts: 2: every item fails (its second attempt fails too), and no third attempt runs.
conf 2 "$T/state2" "$T/out2.txt" >"$T/c2.yaml"
run_daemon "$T/c2.yaml"
rc=$?
assert_exit 1 "$rc" "sluiced (attempts: 2, every item fails twice)"
check_accounting
assert_eq 0 "$(summary_field work ok)" "stage work ok (attempts: 2)"
assert_eq 20 "$(summary_field work failed)" "stage work failed (attempts: 2)"
[ ! -s "$T/out2.txt" ] || fail "attempts: 2: output written: $(head -3 "$T/out2.txt")"
n=$(jsonl "$T/out2.txt.dead" check) || fail "dead letter file malformed"
assert_eq 20 "$n" "dead letter records (attempts: 2)"
assert_eq "20 2" "$(jsonl "$T/out2.txt.dead" field attempts | sort | uniq -c | sed 's/^ *//')" "dead letter 'attempts' (count, value)"
assert_eq "20 exit" "$(jsonl "$T/out2.txt.dead" field error | sort | uniq -c | sed 's/^ *//')" "dead letter error kinds"
assert_eq "20 3" "$(jsonl "$T/out2.txt.dead" field exit_status | sort | uniq -c | sed 's/^ *//')" "dead letter exit_status"
jsonl "$T/out2.txt.dead" field stderr | grep -q 'attempt 2 of it' ||
	fail "dead letter stderr should be the last attempt's ('attempt 2 of ...'), got: $(jsonl "$T/out2.txt.dead" field stderr | head -2)"
while read -r it; do
	assert_eq 2 "$(lines "$T/state2/$it")" "attempts run for $it (attempts: 2)"
done <"$T/in.txt"

# Retried attempts are not failures: with on_failure: cancel and max_failures: 1,
# items that succeed on their third attempt do not cancel anything.
rm -rf "$T/state3" && mkdir -p "$T/state3"
conf 3 "$T/state3" "$T/outc.txt" | sed 's/on_failure: dead_letter/on_failure: cancel\n    max_failures: 1/' >"$T/cc.yaml"
grep -q 'max_failures: 1' "$T/cc.yaml" || fail "test bug: cc.yaml not rewritten"
run_daemon "$T/cc.yaml"
rc=$?
assert_exit 0 "$rc" "sluiced (attempts: 3 with on_failure: cancel, max_failures: 1)"
check_accounting
assert_eq 20 "$(lines "$T/outc.txt")" "lines written (retries with on_failure: cancel)"

# attempts: 1 (and no retry key at all): one attempt only.
rm -rf "$T/state1" && mkdir -p "$T/state1"
conf 1 "$T/state1" "$T/out1.txt" | sed '/retry:/d' >"$T/c1.yaml"
run_daemon "$T/c1.yaml"
rc=$?
assert_exit 1 "$rc" "sluiced (no retry)"
check_accounting
assert_eq "20 1" "$(jsonl "$T/out1.txt.dead" field attempts | sort | uniq -c | sed 's/^ *//')" "dead letter 'attempts' without retry"

# Timeouts are retried, and each attempt gets the whole timeout again.
#   slow-then-quick: attempt 1 hangs (timed out after 2s); attempt 2 takes 0.5s.
#     Were the timeout not restarted, attempt 2 would start past it and fail.
#   hang-hang-ok: attempts 1 and 2 hang (each timed out), attempt 3 succeeds.
#   always-hangs: every attempt hangs: failed with kind timeout after 3 attempts.
printf 'slow-then-quick\nhang-hang-ok\nalways-hangs\n' >"$T/tin.txt"
mkdir -p "$T/tstate"
cat >"$T/tc.yaml" <<YAML
shutdown: { kill_after: 1s }
sources:
  - { name: in, type: file, path: $T/tin.txt }
stages:
  - name: work
    workers: 3
    timeout: 2s
    retry: { attempts: 3, backoff: 10ms, max_backoff: 50ms }
    on_failure: dead_letter
    exec:
      argv:
        - sh
        - -c
        - |
          echo x >>$T/tstate/\$1
          n=\$(wc -l <$T/tstate/\$1)
          case \$1:\$n in
          slow-then-quick:1 | hang-hang-ok:1 | hang-hang-ok:2 | always-hangs:*) sleep 1000 & wait ;;
          slow-then-quick:2) sleep 0.5 ;;
          esac
          echo "\$1 done after \$n"
        - sh
        - "{}"
sinks:
  - { name: out, type: file, path: $T/tout.txt }
dead_letter: { type: file, path: $T/tdead.jsonl }
YAML
t0=$(now_ms)
run_daemon "$T/tc.yaml"
rc=$?
t1=$(now_ms)
assert_exit 1 "$rc" "sluiced (timeouts retried; one item always hangs)"
check_accounting
printf 'hang-hang-ok done after 3\nslow-then-quick done after 2\n' >"$T/twant.txt"
sort "$T/tout.txt" >"$T/tout.sorted"
assert_file_eq "$T/twant.txt" "$T/tout.sorted" "output of the items that timed out, then succeeded"
assert_eq 2 "$(summary_field work ok)" "stage work ok (timeouts)"
assert_eq 1 "$(summary_field work failed)" "stage work failed (timeouts)"
assert_eq 1 "$(jsonl "$T/tdead.jsonl" check)" "dead letter records (timeouts)"
assert_eq always-hangs "$(jsonl "$T/tdead.jsonl" field item)" "dead letter item (timeouts)"
assert_eq timeout "$(jsonl "$T/tdead.jsonl" field error)" "dead letter kind (timeouts)"
assert_eq 3 "$(jsonl "$T/tdead.jsonl" field attempts)" "dead letter attempts (timeouts)"
assert_eq 3 "$(lines "$T/tstate/always-hangs")" "attempts run for always-hangs"
assert_eq 3 "$(lines "$T/tstate/hang-hang-ok")" "attempts run for hang-hang-ok"
assert_eq 2 "$(lines "$T/tstate/slow-then-quick")" "attempts run for slow-then-quick"
# Three 2s timeouts in a row for always-hangs: a loose lower bound only.
assert_ge "$((t1 - t0))" 5500 "elapsed ms (three consecutive 2s timeouts)"
assert_no_leftovers 10
exit 0
