#!/usr/bin/env bash
# sluiced --check prints the new keys back (retry, ordered, rate, shield,
# coprocess, max_failures, joblog) with the values given, and the printed
# pipeline passes --check again, printing the same thing (a fixed point).
# Bad values of the new keys are configuration errors (78) with file:line:col.
. "$(dirname "$0")/../lib.sh"

cat >"$T/c.yaml" <<YAML
name: newkeys
joblog: $T/the.joblog
sources:
  - { name: in, type: generate, count: 3 }
stages:
  - name: plain
    builtin: { op: passthrough }
  - name: fetch
    workers: 4
    exec: { argv: [echo, "{}"] }
    retry: { attempts: 5, backoff: 250ms, max_backoff: 8s }
    max_failures: 7
    ordered: true
    rate: 20/s
    shield: true
  - name: hash
    workers: 2
    coprocess: { argv: [python3, -u, worker.py, "--flag"], framing: length }
    max_failures: 15%
    rate: 600/m
sinks:
  - { name: out, type: discard }
YAML

"$SLUICED" --check -c "$T/c.yaml" >"$T/check1.yaml" 2>"$T/check1.err"
rc=$?
assert_exit 0 "$rc" "sluiced --check (the new keys)"
DAEMON_ERR=$T/check1.err

# Each stage's block of the printed pipeline: from "- name: X" to the next "- name:".
block() { # STAGE
	awk -v n="$1" '
		/^  - name: / { inb = ($0 ~ "^  - name: \"?" n "\"?$") }
		/^[a-z_]+:/ { inb = 0 }
		inb' "$T/check1.yaml"
}
has() { # STAGE REGEX WHAT
	block "$1" | grep -Eq -- "$2" || fail "--check output, stage $1: no line matching '$2' ($3); the block is: $(block "$1" | tr '\n' '|')"
}
has fetch '^ +retry:' "retry"
has fetch '^ +attempts: 5$' "retry.attempts"
has fetch '^ +backoff: (250ms|0\.25s)$' "retry.backoff"
has fetch '^ +max_backoff: 8s$' "retry.max_backoff"
has fetch '^ +max_failures: "?7"?$' "max_failures count"
has fetch '^ +ordered: true$' "ordered"
has fetch '^ +rate: "?20/s"?$' "rate"
has fetch '^ +shield: true$' "shield"
has hash '^ +coprocess:' "coprocess"
has hash 'python3' "coprocess argv"
has hash 'worker\.py' "coprocess argv"
has hash -- '--flag' "coprocess argv"
has hash '^ +framing: "?length"?$' "coprocess framing"
has hash '^ +max_failures: "?15%"?$' "max_failures percent"
has hash '^ +rate: "?(600/m|10/s)"?$' "rate per minute"
has hash '^ +ordered: false$' "ordered default"
has hash '^ +shield: false$' "shield default"
has plain '^ +ordered: false$' "ordered default (builtin stage)"
grep -Eq "^joblog: \"?$T/the.joblog\"?$" "$T/check1.yaml" || fail "--check output: no top-level 'joblog: $T/the.joblog'"

# A fixed point: the printed pipeline passes --check and prints the same.
"$SLUICED" --check -c "$T/check1.yaml" >"$T/check2.yaml" 2>"$T/check2.err"
rc=$?
DAEMON_ERR=$T/check2.err
assert_exit 0 "$rc" "sluiced --check of the printed pipeline"
assert_file_eq "$T/check1.yaml" "$T/check2.yaml" "--check of --check's output"

# The defaults: retry is printed with attempts 1 for a stage without it, and
# a stage without coprocess has no coprocess block.
block plain | grep -Eq '^ +attempts: 1$' || note "stage plain: no 'attempts: 1' default printed"
if block fetch | grep -q 'coprocess'; then fail "--check output: stage fetch shows a coprocess block"; fi

# The printed pipeline runs (the co-process is replaced by cat in length framing).
sed "s|\\[\"python3\", \"-u\", \"worker.py\", \"--flag\"\\]|[\"cat\"]|; s|python3, -u, worker.py, \"--flag\"|cat|" "$T/check1.yaml" >"$T/run.yaml"
grep -q 'worker.py' "$T/run.yaml" && fail "test bug: the co-process argv was not replaced: $(grep worker.py "$T/run.yaml")"
run_daemon "$T/run.yaml"
rc=$?
assert_exit 0 "$rc" "sluiced running the printed pipeline"
check_accounting
assert_eq 3 "$(summary_field plain ok)" "stage plain ok"
[ -s "$T/the.joblog" ] || fail "no joblog written at $T/the.joblog"

# Bad values: exit 78 with file:line:col, all in one run.
cat >"$T/bad.yaml" <<YAML
sources:
  - { name: in, type: generate, count: 3 }
stages:
  - name: a
    exec: { argv: [echo] }
    retry: { attempts: 0, backoff: 1s, max_backoff: 10s }
  - name: b
    exec: { argv: [echo] }
    max_failures: lots
  - name: c
    exec: { argv: [echo] }
    rate: fast
  - name: d
    coprocess: { argv: [cat], framing: words }
  - name: e
    exec: { argv: [echo] }
    ordered: maybe
sinks:
  - { name: out, type: discard }
YAML
"$SLUICED" --check -c "$T/bad.yaml" >/dev/null 2>"$T/bad.err"
rc=$?
DAEMON_ERR=$T/bad.err
assert_exit 78 "$rc" "sluiced --check (bad values of the new keys)"
for l in 6 9 12 14 17; do
	grep -aq "bad.yaml:$l:[0-9]*:" "$T/bad.err" || fail "no error at bad.yaml:$l (file:line:col)"
done
exit 0
